package report

import (
	"encoding/json"
	"strings"
)

// aggregator counts responses into strata in one pass, reading each Row once.
type aggregator struct {
	layout *Layout
	// fallback are the linkIds of the newest version, for responses that name the url alone.
	fallback map[string]int
	all      *stratumAcc
	strata   map[string]*stratumAcc
	order    []*stratumAcc
	stratify func(*Row) (key, label string, err error)
	comments bool
	stamp    int
	last     *stratumAcc
}

// stratumAcc is what has been counted of one stratum.
type stratumAcc struct {
	key, label string
	responses  int
	items      []itemAcc
	// byVersion counts the responses per Questionnaire version (Layout.versions).
	byVersion []int
}

// itemAcc is what has been counted of one item in one stratum.
type itemAcc struct {
	n        int
	stamp    int // the last response counted in n
	counts   []int
	ordSum   float64
	ordN     int
	nums     []float64
	comments []string
}

func newAggregator(l *Layout, fallback string, stratify func(*Row) (string, string, error), comments bool) *aggregator {
	a := &aggregator{layout: l, fallback: l.byVersion[fallback], strata: map[string]*stratumAcc{}, stratify: stratify, comments: comments}
	a.all = a.newStratum(allStratum, allStratum)
	return a
}

// allStratum is the key and name of the overall stratum.
const allStratum = "all"

func (a *aggregator) newStratum(key, label string) *stratumAcc {
	s := &stratumAcc{key: key, label: label, items: make([]itemAcc, len(a.layout.Items)), byVersion: make([]int, len(a.layout.versions))}
	for i, it := range a.layout.Items {
		if len(it.Options) > 0 {
			s.items[i].counts = make([]int, len(it.Options))
		}
	}
	return s
}

// add counts one response.
func (a *aggregator) add(r *Row) error {
	links := a.layout.byVersion[r.Questionnaire]
	if links == nil {
		links = a.fallback
	}
	s := a.all
	if a.stratify != nil {
		key, label, err := a.stratify(r)
		if err != nil {
			return err
		}
		if a.last != nil && a.last.key == key {
			s = a.last
		} else if s = a.strata[key]; s == nil {
			s = a.newStratum(key, label)
			a.strata[key] = s
			a.order = append(a.order, s)
		} else if s.label == "" && label != "" {
			s.label = label
		}
		a.last = s
	}
	a.stamp++
	a.all.responses++
	if s != a.all {
		s.responses++
	}
	if n := len(a.layout.versions); n > 1 {
		vi, ok := a.layout.versionOf[r.Questionnaire]
		if !ok {
			vi = n - 1 // the url alone: the newest version
		}
		a.all.byVersion[vi]++
		if s != a.all {
			s.byVersion[vi]++
		}
	}
	items := a.layout.Items
	for _, k := range r.Codes {
		i := strings.IndexByte(k, '$')
		if i < 0 {
			continue
		}
		idx, ok := links[k[:i]]
		if !ok {
			continue
		}
		rest := k[i+1:]
		switch items[idx].kind() {
		case kindChoice:
			if strings.IndexByte(rest, '|') < 0 {
				continue // the bare-code key of a coding already counted by system|code
			}
		case kindBoolean:
			if rest != "true" && rest != "false" {
				continue
			}
		default:
			continue
		}
		oi, ok := a.layout.options[idx][rest]
		if !ok {
			continue
		}
		a.choice(a.all, idx, oi)
		if s != a.all {
			a.choice(s, idx, oi)
		}
	}
	for _, n := range r.Numbers {
		idx, ok := links[n.LinkID]
		if !ok || items[idx].kind() != kindNumber {
			continue
		}
		a.number(a.all, idx, n.Value)
		if s != a.all {
			a.number(s, idx, n.Value)
		}
	}
	if a.comments && r.Body != nil {
		return a.texts(r.Body, links, s)
	}
	return nil
}

func (a *aggregator) choice(s *stratumAcc, idx, oi int) {
	acc := &s.items[idx]
	if acc.stamp != a.stamp {
		acc.stamp = a.stamp
		acc.n++
	}
	acc.counts[oi]++
	if o := a.layout.Items[idx].Options[oi].Ordinal; o != nil {
		acc.ordSum += *o
		acc.ordN++
	}
}

func (a *aggregator) number(s *stratumAcc, idx int, v float64) {
	acc := &s.items[idx]
	if acc.stamp != a.stamp {
		acc.stamp = a.stamp
		acc.n++
	}
	acc.nums = append(acc.nums, v)
}

// responseItems is the part of a response's JSON that comments are read from.
type responseItems struct {
	Item []responseItem `json:"item"`
}

type responseItem struct {
	LinkID string `json:"linkId"`
	Answer []struct {
		ValueString *string        `json:"valueString"`
		Item        []responseItem `json:"item"`
	} `json:"answer"`
	Item []responseItem `json:"item"`
}

// texts adds the free-text answers of a response to its stratum's and the overall comments.
// They keep nothing that names the patient or author: only the text.
func (a *aggregator) texts(body []byte, links map[string]int, s *stratumAcc) error {
	var r responseItems
	if err := json.Unmarshal(body, &r); err != nil {
		return nil // a body the store holds is valid JSON; one that is not has no comments
	}
	var walk func(list []responseItem)
	walk = func(list []responseItem) {
		for _, it := range list {
			idx, ok := links[it.LinkID]
			for _, ans := range it.Answer {
				if ok && a.layout.Items[idx].kind() == kindText && ans.ValueString != nil {
					if t := strings.TrimSpace(*ans.ValueString); t != "" {
						a.all.items[idx].comments = append(a.all.items[idx].comments, t)
						if s != a.all {
							s.items[idx].comments = append(s.items[idx].comments, t)
						}
					}
				}
				walk(ans.Item)
			}
			walk(it.Item)
		}
	}
	walk(r.Item)
	return nil
}
