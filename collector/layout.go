package collector

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
)

// This file fills the attributes of a new record or span without pdata's
// per-key lookup. pcommon.Map.PutEmpty (like every Put) first scans the
// whole map for the key, so filling a map of n attributes compares n²/2
// keys; a process's record has some thirty. Records of one kind repeat
// the same keys in the same order, so the keys are laid out once in a
// map with empty values, and each record copies that map (one exact-sized
// allocation, no lookups) and sets the values in order.

const (
	// maxLayoutKeys is the longest key sequence given a layout; longer
	// ones are put key by key.
	maxLayoutKeys = 64
	// layoutsPerLen is how many layouts of one length are kept, the most
	// recently used first; the least recently used one goes when another
	// is needed. A recorded exec storm has five layouts, a shell session
	// eleven, at most three of one length; the cache holds at most
	// maxLayoutKeys*layoutsPerLen layouts (some 1.5 MB).
	layoutsPerLen = 8
)

// attrLayout is one sequence of attribute keys and a map holding exactly
// those keys, in that order, with empty values.
type attrLayout struct {
	keys  []attribute.Key
	slots pcommon.Map
	// repeats is true when a key occurs twice: the later value replaces
	// the earlier one in its place, and the map has fewer slots than keys.
	repeats bool
}

// attrLayouts are the layouts seen recently, by their number of keys. It
// is not safe for concurrent use.
type attrLayouts struct {
	byLen [maxLayoutKeys + 1][]*attrLayout
}

// put puts kvs into the empty map m exactly as putAttributes would.
func (ls *attrLayouts) put(m pcommon.Map, kvs []attribute.KeyValue) {
	if m.Len() != 0 || len(kvs) == 0 || len(kvs) > maxLayoutKeys {
		putAttributes(m, kvs)
		return
	}
	l := ls.layout(kvs)
	if l.repeats {
		putAttributes(m, kvs)
		return
	}
	l.slots.CopyTo(m)
	i := 0
	for _, v := range m.All() {
		putValue(v, kvs[i].Value)
		i++
	}
}

// layout returns the layout of kvs' keys, making it on first use.
func (ls *attrLayouts) layout(kvs []attribute.KeyValue) *attrLayout {
	list := ls.byLen[len(kvs)]
	for i, l := range list {
		if sameKeys(l.keys, kvs) {
			copy(list[1:i+1], list[:i])
			list[0] = l
			return l
		}
	}
	l := newAttrLayout(kvs)
	if len(list) < layoutsPerLen {
		list = append(list, nil)
	}
	copy(list[1:], list)
	list[0] = l
	ls.byLen[len(kvs)] = list
	return l
}

// sameKeys reports whether kvs has the keys keys, in that order. The
// attributes that vary between records of one length come last, so it
// compares from the end.
func sameKeys(keys []attribute.Key, kvs []attribute.KeyValue) bool {
	for i := len(kvs) - 1; i >= 0; i-- {
		if keys[i] != kvs[i].Key {
			return false
		}
	}
	return true
}

func newAttrLayout(kvs []attribute.KeyValue) *attrLayout {
	l := &attrLayout{keys: make([]attribute.Key, len(kvs)), slots: pcommon.NewMap()}
	l.slots.EnsureCapacity(len(kvs))
	for i, kv := range kvs {
		l.keys[i] = kv.Key
		l.slots.PutEmpty(string(kv.Key))
	}
	l.repeats = l.slots.Len() != len(kvs)
	return l
}
