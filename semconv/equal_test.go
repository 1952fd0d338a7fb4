package semconv

import (
	"reflect"
	"testing"
)

// Equal must look at every field of Process, including fields added later:
// changing any one of them, however deep, makes two processes unequal.
func TestProcessEqualSeesEveryField(t *testing.T) {
	base := Process{PID: 1, TID: 1, Comm: "a", Argv: []string{"a", "b"}}
	if c := base; !base.Equal(&c) {
		t.Fatal("a process is not Equal to its copy")
	}
	n := 0
	// Change a copy one field at a time, and compare with the untouched base.
	rt := reflect.TypeOf(base)
	var visit func(typ reflect.Type, index []int, path string)
	visit = func(typ reflect.Type, index []int, path string) {
		for i := 0; i < typ.NumField(); i++ {
			sf := typ.Field(i)
			idx := append(append([]int(nil), index...), i)
			if sf.Type.Kind() == reflect.Struct {
				visit(sf.Type, idx, path+sf.Name+".")
				continue
			}
			c := base
			c.Argv = append([]string(nil), base.Argv...)
			f := reflect.ValueOf(&c).Elem().FieldByIndex(idx)
			switch f.Kind() {
			case reflect.Int32, reflect.Int64:
				f.SetInt(f.Int() + 7)
			case reflect.Uint32, reflect.Uint64:
				f.SetUint(f.Uint() + 7)
			case reflect.String:
				f.SetString(f.String() + "x")
			case reflect.Bool:
				f.SetBool(!f.Bool())
			case reflect.Slice:
				f.Index(0).SetString("changed")
			default:
				t.Fatalf("field %s of kind %s: teach this test to change it", path+sf.Name, f.Kind())
			}
			if base.Equal(&c) || c.Equal(&base) {
				t.Errorf("processes differing in %s are Equal", path+sf.Name)
			}
			n++
		}
	}
	visit(rt, nil, "")
	if n < 20 {
		t.Fatalf("only %d fields visited", n)
	}
}
