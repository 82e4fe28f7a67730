package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/grow-ml/grow/grow"
)

// opFlags binds the parameters of every registered operator to the flags of
// one command: each flag name once (operators that share a parameter share
// its flag), owned by the operators that declare it. After parsing, bind sets
// the chosen operator's parameters from the flags given, and refuses a flag
// that the operator does not own: one operator's flag is an error for
// another by construction, since the ownership comes from the operators.
type opFlags struct {
	values map[string]*opValue
	owners map[string][]string // flag name -> operator names
}

// opValue is the pflag.Value of an operator parameter: it checks the text
// against the parameter's type when the flag is parsed and keeps it until
// bind sets the chosen operator's field.
type opValue struct {
	typ  string // "int", "int64", "float64", "bool" or "string"
	text string
}

func (v *opValue) String() string { return v.text }
func (v *opValue) Type() string   { return v.typ }

func (v *opValue) Set(s string) error {
	if err := parseParam(v.typ, s, nil); err != nil {
		return err
	}
	v.text = s
	return nil
}

// IsBoolFlag lets a bool parameter be given as --keep-tied alone.
func (v *opValue) IsBoolFlag() bool { return v.typ == "bool" }

// paramType names the type of a parameter's field.
func paramType(p grow.Param) string {
	switch p.Value.(type) {
	case *int:
		return "int"
	case *int64:
		return "int64"
	case *float64:
		return "float64"
	case *bool:
		return "bool"
	case *string:
		return "string"
	}
	panic(fmt.Sprintf("grow: parameter --%s has an unsupported type %T", p.Name, p.Value))
}

// parseParam parses s as a value of type typ and, when dst is not nil, stores
// it there. A float must be finite.
func parseParam(typ, s string, dst any) error {
	var err error
	switch typ {
	case "int", "int64":
		var n int64
		if n, err = strconv.ParseInt(s, 10, 64); err == nil {
			switch d := dst.(type) {
			case *int:
				*d = int(n)
			case *int64:
				*d = n
			}
		}
	case "float64":
		var f float64
		if f, err = strconv.ParseFloat(s, 64); err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			err = fmt.Errorf("not a finite number")
		}
		if d, ok := dst.(*float64); ok && err == nil {
			*d = f
		}
	case "bool":
		var b bool
		if b, err = strconv.ParseBool(s); err == nil {
			if d, ok := dst.(*bool); ok {
				*d = b
			}
		}
	case "string":
		if d, ok := dst.(*string); ok {
			*d = s
		}
	}
	return err
}

// addOpFlags defines the flags of every registered operator on fs.
func addOpFlags(fs *pflag.FlagSet) *opFlags {
	o := &opFlags{values: map[string]*opValue{}, owners: map[string][]string{}}
	for _, op := range grow.Operators() {
		for _, p := range op.Params() {
			typ := paramType(p)
			if v, ok := o.values[p.Name]; ok {
				if v.typ != typ {
					panic(fmt.Sprintf("grow: --%s is %s in one operator and %s in %s", p.Name, v.typ, typ, op.Name()))
				}
			} else {
				v := &opValue{typ: typ} // the operator's field holds the default
				o.values[p.Name] = v
				f := fs.VarPF(v, p.Name, "", p.Usage)
				if typ == "bool" {
					f.NoOptDefVal = "true"
				}
			}
			o.owners[p.Name] = append(o.owners[p.Name], op.Name())
		}
	}
	return o
}

// bind sets op's parameters from the flags given on cmd's command line, and
// refuses any operator flag op does not own (a usage error naming the
// operators that do).
func (o *opFlags) bind(cmd *cobra.Command, op grow.Operator) error {
	for name, v := range o.values {
		if !cmd.Flags().Changed(name) {
			continue
		}
		p, ok := grow.ParamOf(op, name)
		if !ok {
			return usagef("--%s is a flag of %s; --method %s does not take it", name, strings.Join(o.owners[name], " and "), op.Name())
		}
		if err := parseParam(v.typ, v.text, p.Value); err != nil {
			return usagef("--%s %q: %v", name, v.text, err)
		}
		if p.Set != nil {
			*p.Set = true
		}
	}
	return nil
}

// ownedBy reports whether the flag name belongs to an operator (and not to
// the command itself), and whether method owns it.
func (o *opFlags) ownedBy(name, method string) (isOp, owned bool) {
	owners, isOp := o.owners[name]
	return isOp, slices.Contains(owners, method)
}

// methodHelp lists the registered operators with their flags, for a
// command's long help.
func methodHelp() string {
	var b strings.Builder
	for _, op := range grow.Operators() {
		var flags []string
		for _, p := range op.Params() {
			flags = append(flags, "--"+p.Name)
		}
		fmt.Fprintf(&b, "  %s\n      %s\n      flags: %s\n", op.Name(), op.Summary(), strings.Join(flags, " "))
	}
	return b.String()
}

// helpForMethod hides, in cmd's help, the operator flags that the method
// given on the command line does not take: "grow expand --method lemon
// --help" shows LEMON's flags only.
func (o *opFlags) helpForMethod(cmd *cobra.Command, method string) {
	if _, err := grow.New(method); err != nil {
		return
	}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if isOp, owned := o.ownedBy(f.Name, method); isOp && !owned {
			f.Hidden = true
		}
	})
}
