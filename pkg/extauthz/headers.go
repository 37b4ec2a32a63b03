package extauthz

import (
	"iter"
	"sort"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// headerList is the request's headers: lower-case names sorted, a name
// repeated once per value, its values in the order Envoy sent them. Two
// arrays (sharing one allocation) instead of a map of slices: a
// lookup is a binary search, and a name's values are a slice of values.
type headerList struct {
	names  []string
	values []string // values[i] is a value of names[i]
}

// get returns the values of name (lower case), nil when it was not sent.
// The slice has no spare capacity: appending to it copies.
func (h headerList) get(name string) []string {
	lo := sort.SearchStrings(h.names, name)
	hi := lo
	for hi < len(h.names) && h.names[hi] == name {
		hi++
	}
	if lo == hi {
		return nil
	}
	return h.values[lo:hi:hi]
}

// has reports whether name was sent.
func (h headerList) has(name string) bool { return len(h.get(name)) > 0 }

// all yields every name sent, in sorted order, with its values.
func (h headerList) all() iter.Seq2[string, []string] {
	return func(yield func(string, []string) bool) {
		for lo := 0; lo < len(h.names); {
			hi := lo + 1
			for hi < len(h.names) && h.names[hi] == h.names[lo] {
				hi++
			}
			if !yield(h.names[lo], h.values[lo:hi:hi]) {
				return
			}
			lo = hi
		}
	}
}

// newHeaderList returns names and values of length n that share one
// allocation; each is capped at n, so an append to either copies rather
// than overwrite the other.
func newHeaderList(n int) headerList {
	buf := make([]string, 2*n)
	return headerList{names: buf[:n:n], values: buf[n:]}
}

// headersOf prefers header_map (Envoy's encode_raw_headers), which keeps
// repeated headers and raw bytes; the headers map joins repeats with ",".
func headersOf(h *authv3.AttributeContext_HttpRequest) headerList {
	if hm := h.GetHeaderMap().GetHeaders(); len(hm) > 0 {
		return headerMapOf(hm)
	}
	l := newHeaderList(len(h.GetHeaders()))
	l.names, l.values = l.names[:0], l.values[:0]
	for k, val := range h.GetHeaders() {
		l.names, l.values = append(l.names, strings.ToLower(k)), append(l.values, val)
	}
	l.sort()
	return l
}

// headerMapOf reads header_map. Each raw value is copied into its own
// string: a value kept past the Check (the request id in a rate-limit hold
// or a queued decision record) must not keep the rest of the request's
// headers, credentials included, alive with it.
func headerMapOf(hm []*corev3.HeaderValue) headerList {
	l := newHeaderList(len(hm))
	for i, hv := range hm {
		l.names[i] = strings.ToLower(hv.GetKey())
		if rv := hv.GetRawValue(); len(rv) > 0 {
			l.values[i] = string(rv)
		} else {
			l.values[i] = hv.GetValue()
		}
	}
	l.sort()
	return l
}

// smallHeaderCount is the count up to which an insertion sort is used.
const smallHeaderCount = 48

// sort orders by name, stably: a name's values keep Envoy's order.
func (h headerList) sort() {
	if len(h.names) > smallHeaderCount {
		sort.Stable(byName(h))
		return
	}
	for i := 1; i < len(h.names); i++ {
		for j := i; j > 0 && h.names[j] < h.names[j-1]; j-- {
			byName(h).Swap(j, j-1)
		}
	}
}

// byName sorts a headerList's two arrays together.
type byName headerList

func (b byName) Len() int           { return len(b.names) }
func (b byName) Less(i, j int) bool { return b.names[i] < b.names[j] }
func (b byName) Swap(i, j int) {
	b.names[i], b.names[j] = b.names[j], b.names[i]
	b.values[i], b.values[j] = b.values[j], b.values[i]
}

func headerValue(hv *corev3.HeaderValue) string {
	if raw := hv.GetRawValue(); len(raw) > 0 {
		return string(raw)
	}
	return hv.GetValue()
}
