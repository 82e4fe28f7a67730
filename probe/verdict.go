package probe

import (
	"fmt"
	"math"
	"strings"

	"github.com/grow-ml/grow/claim"
)

// Tolerances of the EXACT class (docs/exactness.md): max-abs logits difference
// relative to max(1, max|logits|), and the largest KL(p_src ‖ p_dst).
const (
	ExactTol64   = 1e-9
	ExactKL64    = 1e-12
	ExactTol32   = 1e-4
	ExactKL32    = 1e-7
	upToEpsLimit = 1e-6
)

// Outcomes of a check (Report.Outcome).
const (
	// OutcomePass: a claim that promises something was verified and held.
	OutcomePass = "PASS"
	// OutcomeFail: a rule failed.
	OutcomeFail = "FAIL"
	// OutcomeUnverified: nothing failed, but nothing was promised either
	// (no claim for models of different sizes, APPROX, NON-PRESERVING,
	// EXACT-UP-TO-EPS without a bound): the numbers are only reported.
	OutcomeUnverified = "NOTHING TO VERIFY"
)

// judge applies the rules of the claim, the tolerance and the expected class,
// and writes the verdict.
func (c *checker) judge() error {
	rep := c.rep
	if c.relation != nil { // nil in a merge, which has the slices' result
		rep.Relation = c.relation.result()
	}
	fails, err := c.classRules()
	if err != nil {
		return err
	}
	if e := c.opts.Expect; e != "" && claim.Rank(rep.Class) < claim.Rank(e) {
		what := "no claim"
		if rep.Class != "" {
			what = "the claim is " + rep.Class
		}
		fails = append(fails, fmt.Sprintf("%s, weaker than the %s expected", what, e))
	}
	if c.opts.Tol > 0 && !(rep.MaxAbs <= c.opts.Tol) {
		fails = append(fails, fmt.Sprintf("max-abs logits difference %.3g exceeds the tolerance %g", rep.MaxAbs, c.opts.Tol))
	}
	if r := rep.Relation; r != nil && !r.Related {
		if rep.Class == NonPreserving {
			c.note("the models look unrelated (%s); NON-PRESERVING claims nothing about that", r.Why)
		} else {
			fails = append([]string{"the models are unrelated: " + r.Why}, fails...)
		}
	}
	rel := fmt.Sprintf("max |Δlogits| %.3g, relative %.3g, top-1 agreement %.2f%%", rep.MaxAbs, rep.Rel, 100*rep.Top1)
	switch {
	case len(fails) > 0:
		rep.Outcome = OutcomeFail
		rep.Verdict = "FAIL: " + strings.Join(fails, "; ")
	case rep.Class == BitExact || rep.Class == Exact:
		rep.Outcome, rep.Verdict = OutcomePass, OutcomePass
	case c.opts.Tol > 0:
		rep.Outcome = OutcomePass
		rep.Verdict = fmt.Sprintf("PASS (max |Δlogits| %.3g ≤ the tolerance %g; %s)", rep.MaxAbs, c.opts.Tol, c.promise())
	default:
		rep.Outcome = OutcomeUnverified
		rep.Verdict = fmt.Sprintf("%s: %s; %s", OutcomeUnverified, c.promise(), rel)
	}
	rep.Pass = rep.Outcome != OutcomeFail
	rep.Verified = rep.Outcome == OutcomePass
	return nil
}

// promise says in words what the claim promises beyond a tolerance.
func (c *checker) promise() string {
	switch c.rep.Class {
	case "":
		return fmt.Sprintf("no claim recorded and the hidden sizes differ (%d vs %d): give --expect CLASS "+
			"with --hidden-map to state one", c.src.Hidden, c.dst.Hidden)
	case ExactUpToEps:
		return fmt.Sprintf("EXACT-UP-TO-EPS promises no bound of its own: relative difference %.3g, expected ≤ %g; "+
			"give --tol to verify one", c.rep.Rel, upToEpsLimit)
	case Approx, NonPreserving:
		return c.rep.Class + " promises nothing"
	}
	return c.rep.Class
}

// classRules returns the failures of the class's own rules (BIT-EXACT and
// EXACT have some; the other classes none).
func (c *checker) classRules() ([]string, error) {
	rep, opts := c.rep, c.opts
	var fails []string
	tol, klTol := ExactTol64, ExactKL64
	if opts.Precision == F32 {
		tol, klTol = ExactTol32, ExactKL32
	} else if c.mapping != nil && c.mapping.Rounded != "" && rep.Class == Exact {
		tol, klTol = ExactTol32, ExactKL32
		c.note("the operator's values were rounded to %s on storage: EXACT is judged with the float32 rule "+
			"(%g·max(1, max|logits|), KL ≤ %g)", c.mapping.Rounded, tol, klTol)
	}
	switch rep.Class {
	case BitExact:
		if rep.MaxAbs != 0 {
			fails = append(fails, fmt.Sprintf("max-abs logits difference %.3g ≠ 0 (BIT-EXACT)", rep.MaxAbs))
		}
		for j, d := range rep.LayerDev {
			if d > 0 {
				fails = append(fails, fmt.Sprintf("hidden state %d deviates by %.3g ≠ 0 (BIT-EXACT)", j, d))
				break
			}
		}
	case Exact:
		limit := tol * math.Max(1, rep.MaxLogit)
		tieLimit := 2 * limit
		if !(rep.MaxAbs <= limit) {
			fails = append(fails, fmt.Sprintf("max-abs logits difference %.3g > %.3g = %g·max(1, max|logits| %.3g) (EXACT, %s)",
				rep.MaxAbs, limit, tol, rep.MaxLogit, opts.Precision))
		}
		if !c.hiddenOut && !(rep.MaxKL <= klTol) {
			fails = append(fails, fmt.Sprintf("max KL %.3g > %g (EXACT, %s)", rep.MaxKL, klTol, opts.Precision))
		}
		ties := 0
		if opts.Precision == F32 && !c.hiddenOut {
			for _, g := range c.disagreements {
				if g[0]-g[1] > tieLimit {
					fails = append(fails, fmt.Sprintf("top-1 agreement %.4f < 1 (EXACT, f32)", rep.Top1))
					break
				}
				ties++
			}
		}
		for j, d := range rep.LayerDev {
			lim := tol * math.Max(1, c.maxHidden[j])
			if d > lim || math.IsNaN(d) {
				fails = append(fails, fmt.Sprintf("hidden state %d (source %d) deviates by %.3g > %.3g (EXACT)",
					j, c.layerMap[j], d, lim))
				break
			}
		}
		if ties > 0 && len(fails) == 0 {
			c.note("%d top-1 disagreements are ties within %.3g", ties, tieLimit)
		}
	case ExactUpToEps, Approx, NonPreserving, "":
	default:
		return nil, fmt.Errorf("probe: check: unknown class %q", rep.Class)
	}
	return fails, nil
}
