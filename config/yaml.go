package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxFileSize bounds a configuration file. A procotel configuration is a
// few hundred bytes; a file past this is the wrong file.
const MaxFileSize = 1 << 20

// maxNodes bounds how many YAML nodes the checks below visit, anchors and
// aliases expanded, so a small file cannot make them run for long.
const maxNodes = 1 << 20

// LoadFile reads a YAML configuration file onto c. Unknown and repeated
// fields are errors, and so is a file larger than MaxFileSize.
func LoadFile(c *Config, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	if len(b) > MaxFileSize {
		return fmt.Errorf("config %s: larger than %d KiB; a procotel configuration is a few hundred bytes (is this the right file?)", path, MaxFileSize>>10)
	}
	if err := decodeYAML(c, b); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

// ParseDuration is the one rule for every duration procotel reads, from
// a flag, the environment or a file: Go's duration syntax with a unit
// ("20ms", "5s", "1m30s"); a bare 0 needs none. Ranges are Validate's.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err == nil {
		return d, nil
	}
	if _, e := strconv.ParseFloat(strings.TrimSpace(s), 64); e == nil {
		return 0, fmt.Errorf("cannot use %q (a duration needs a unit, such as %sms or %ss)", s, s, s)
	}
	return 0, fmt.Errorf("cannot use %q (want a duration such as 20ms or 5s)", s)
}

// decodeYAML decodes one YAML document onto c. yaml.v3 checks a mapping
// for repeated keys by comparing every pair, which takes minutes on a
// mapping of a few hundred thousand keys, so the document is checked
// here first, in one pass (unknown and repeated fields, durations), and
// the free-form string maps are filled here; what is left for yaml.v3
// to decode are structs of known, distinct fields.
func decodeYAML(c *Config, b []byte) error {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(root.Content) == 0 {
		return nil // empty file
	}
	if err := decodeNode(c, &root); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg := te.Errors[0]
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				line, _ := strconv.Atoi(m[1])
				if path := pathAtLine(&root, line, ""); path != "" {
					return fmt.Errorf("line %d: %s: %s", line, path, typeHint(m[2]))
				}
			}
			return errors.New(strings.TrimPrefix(msg, "yaml: "))
		}
		return err
	}
	return nil
}

// decodeNode checks the document n (see checker) and decodes it onto c.
// It is the one decoding path of the file, the flags and the environment.
func decodeNode(c *Config, n *yaml.Node) error {
	ck := checker{budget: maxNodes}
	slot := n
	if err := ck.walk(&slot, reflect.ValueOf(c).Elem(), ""); err != nil {
		return err
	}
	return slot.Decode(c)
}

var durationType = reflect.TypeOf(time.Duration(0))

// checker walks a YAML document beside the Go value it decodes into.
type checker struct {
	budget int // nodes left to visit
}

// walk checks the node in *slot against v (at YAML path path): a mapping
// decoded into a struct may only hold that struct's fields, once each; a
// duration follows ParseDuration; a mapping decoded into a map of
// strings is put into v here, and *slot is replaced by an empty mapping
// so that the decoder does not see it again.
func (ck *checker) walk(slot **yaml.Node, v reflect.Value, path string) error {
	n := *slot
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return ck.walk(&n.Content[0], v, path)
	}
	if ck.budget -= 1 + len(n.Content); ck.budget < 0 {
		return errors.New("anchors and aliases expand to too many values; write the values out")
	}
	switch {
	case v.Type() == durationType:
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			return nil // the decoder reports the type
		}
		if _, err := ParseDuration(n.Value); err != nil {
			return atLine(n, "%s: %v", path, err)
		}
		n.Tag = "!!str" // the decoder parses a string with time.ParseDuration
	case v.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := yamlFields(v.Type())
		seen := make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if err := ck.key(k, seen, path); err != nil {
				return err
			}
			idx, ok := fields[k.Value]
			if !ok {
				return atLine(k, "unknown field %q in %s", k.Value, section(path))
			}
			if err := ck.walk(&n.Content[i+1], v.FieldByIndex(idx), joinPath(path, k.Value)); err != nil {
				return err
			}
		}
	case v.Kind() == reflect.Map && v.Type() == stringMapType && n.Kind == yaml.MappingNode:
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(stringMapType, len(n.Content)/2))
		}
		m := v.Interface().(map[string]string)
		seen := make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if err := ck.key(k, seen, path); err != nil {
				return err
			}
			x := n.Content[i+1]
			for x.Kind == yaml.AliasNode && x.Alias != nil {
				x = x.Alias
			}
			switch {
			case x.Kind != yaml.ScalarNode:
				return atLine(x, "%s: want a string value", joinPath(path, k.Value))
			case x.Tag == "!!null":
				m[k.Value] = ""
			default:
				m[k.Value] = x.Value
			}
		}
		*slot = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	}
	return nil
}

// key checks one mapping key: a plain scalar, not yet seen in its mapping.
func (ck *checker) key(k *yaml.Node, seen map[string]int, path string) error {
	if k.Kind != yaml.ScalarNode {
		return atLine(k, "%s: a key must be a plain name", section(path))
	}
	if k.Tag == "!!merge" {
		return atLine(k, "merge keys (<<) are not supported in %s; write the fields out", section(path))
	}
	if first, dup := seen[k.Value]; dup {
		return atLine(k, "%s is given twice (first on line %d)", joinPath(path, k.Value), first)
	}
	seen[k.Value] = k.Line
	return nil
}

var stringMapType = reflect.TypeOf(map[string]string(nil))

// yamlFields maps the YAML names of struct type t's fields, those of an
// inlined struct included, to their index paths.
func yamlFields(t reflect.Type) map[string][]int {
	m := make(map[string][]int, t.NumField())
	for _, f := range reflect.VisibleFields(t) {
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.Anonymous && opts == "inline" {
			continue // its fields are listed themselves
		}
		if name != "" && name != "-" {
			m[name] = f.Index
		}
	}
	return m
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func section(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

// atLine is an error at n's line; nodes built from a flag have none.
func atLine(n *yaml.Node, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if n.Line > 0 {
		return fmt.Errorf("line %d: %s", n.Line, msg)
	}
	return errors.New(msg)
}
