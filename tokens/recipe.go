package tokens

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// Recipe is a scripted vocabulary extension (YAML or JSON):
//
//	seed: 1234
//	pad_to_multiple_of: 64
//	defaults:
//	  mode: auto                 # auto | vocab | added
//	  init: {input: fvt, output: mean}
//	tokens:
//	  - text: " photosynthesis"
//	  - text: " chlorophyll"
//	    init: {input: "fvt:last", output: mean}
//	  - text: "<|tool_call|>"
//	    special: true
//	    init: "from-text:tool call"   # one method for both
//	  - text: "<|im_end|>"
//	    special: true
//	    role: eos_extra
//	    init: {input: "copy:</s>"}
//
// Methods are written as on the command line (ParseMethod). Unknown keys
// are errors.
type Recipe struct {
	Seed            *int64        `yaml:"seed"`
	PadToMultipleOf int           `yaml:"pad_to_multiple_of"`
	Defaults        recipeDefault `yaml:"defaults"`
	Tokens          []recipeToken `yaml:"tokens"`
}

type recipeDefault struct {
	Mode string     `yaml:"mode"`
	Init recipeInit `yaml:"init"`
}

type recipeToken struct {
	Text    *string    `yaml:"text"`
	Mode    string     `yaml:"mode"`
	Special bool       `yaml:"special"`
	Role    string     `yaml:"role"`
	Init    recipeInit `yaml:"init"`
}

// recipeInit is `init: METHOD` or `init: {input: METHOD, output: METHOD}`.
type recipeInit struct {
	Input, Output *Method
}

func (r *recipeInit) UnmarshalYAML(n *yaml.Node) error {
	parse := func(n *yaml.Node) (*Method, error) {
		var s string
		if err := n.Decode(&s); err != nil {
			return nil, fmt.Errorf("line %d: a method is a string such as fvt or copy:TOKEN", n.Line)
		}
		m, err := ParseMethod(s)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return &m, nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		m, err := parse(n)
		if err != nil {
			return err
		}
		r.Input, r.Output = m, m
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			m, err := parse(v)
			if err != nil {
				return err
			}
			switch k {
			case "input":
				r.Input = m
			case "output":
				r.Output = m
			default:
				return fmt.Errorf("line %d: init has input and output, not %q", n.Content[i].Line, k)
			}
		}
		return nil
	}
	return fmt.Errorf("line %d: init is a method or {input: METHOD, output: METHOD}", n.Line)
}

// ParseRecipe reads a recipe; name is used in errors.
func ParseRecipe(data []byte, name string) (*Recipe, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var r Recipe
	if err := dec.Decode(&r); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: an empty recipe", name)
		}
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(r.Tokens) == 0 {
		return nil, fmt.Errorf("%s: no tokens", name)
	}
	for i, t := range r.Tokens {
		if t.Text == nil {
			return nil, fmt.Errorf("%s: token %d has no text", name, i+1)
		}
		switch t.Mode {
		case "", ModeAuto, ModeVocab, ModeAdded:
		default:
			return nil, fmt.Errorf("%s: token %d %q: mode %q: want auto, vocab or added", name, i+1, *t.Text, t.Mode)
		}
	}
	switch r.Defaults.Mode {
	case "", ModeAuto, ModeVocab, ModeAdded:
	default:
		return nil, fmt.Errorf("%s: defaults: mode %q: want auto, vocab or added", name, r.Defaults.Mode)
	}
	if r.PadToMultipleOf < 0 {
		return nil, fmt.Errorf("%s: pad_to_multiple_of %d: must not be negative", name, r.PadToMultipleOf)
	}
	return &r, nil
}

// Requests returns the recipe's tokens as requests.
func (r *Recipe) Requests() []Request {
	out := make([]Request, len(r.Tokens))
	for i, t := range r.Tokens {
		out[i] = Request{Text: *t.Text, Mode: t.Mode, Special: t.Special, Role: t.Role, Input: t.Init.Input, Output: t.Init.Output}
	}
	return out
}

// Apply sets the recipe's defaults in opt (those it gives).
func (r *Recipe) Apply(opt *Options) {
	if r.Defaults.Mode != "" {
		opt.Mode = r.Defaults.Mode
	}
	if r.Defaults.Init.Input != nil {
		opt.Input = *r.Defaults.Init.Input
	}
	if r.Defaults.Init.Output != nil {
		opt.Output = *r.Defaults.Init.Output
	}
	if r.Seed != nil {
		opt.Seed = *r.Seed
	}
	if r.PadToMultipleOf > 0 {
		opt.PadToMultipleOf = r.PadToMultipleOf
	}
}
