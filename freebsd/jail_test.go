package freebsd

import (
	"errors"
	"reflect"
	"testing"
)

func TestJailNames(t *testing.T) {
	calls := 0
	jails := map[int32]string{3: "web"}
	j := NewJailNames(func(jid int32) (string, error) {
		calls++
		if n, ok := jails[jid]; ok {
			return n, nil
		}
		return "", errors.New("no such jail")
	})
	if j.Name(0) != "" || calls != 0 {
		t.Error("host jail looked up")
	}
	if first, again := j.Name(3), j.Name(3); first != "web" || again != "web" || calls != 1 {
		t.Errorf("cached lookup: %q then %q, calls %d", first, again, calls)
	}
	if j.Name(9) != "" || j.Misses() != 1 {
		t.Error("missing jail")
	}
	jails[9] = "db" // created after the miss: refreshed on the next one
	if j.Name(9) != "db" {
		t.Error("jail created later not found")
	}
	j.Observe(11, "ci")
	if j.Name(11) != "ci" || calls != 3 {
		t.Errorf("observed name: calls %d", calls)
	}
}

func TestResolveJails(t *testing.T) {
	byName := func(n string) (int32, error) {
		if n == "web" {
			return 3, nil
		}
		return 0, errors.New("not found")
	}
	ids, err := ResolveJails([]string{"host", "7", "web"}, byName)
	if err != nil || !reflect.DeepEqual(ids, []int32{0, 7, 3}) {
		t.Errorf("ids %v err %v", ids, err)
	}
	if _, err := ResolveJails([]string{"nope"}, byName); err == nil {
		t.Error("unknown jail name accepted")
	}
	if _, err := ResolveJails([]string{"-2"}, byName); err == nil {
		t.Error("negative id accepted")
	}
}
