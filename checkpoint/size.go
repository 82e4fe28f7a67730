package checkpoint

import (
	"fmt"
	"math/big"
	"strings"
)

// sizeUnits maps upper-case unit suffixes to their multipliers: decimal units as
// huggingface_hub's parse_size_to_int ("5GB" = 5·10^9), binary units for the
// "iB" spellings ("2GiB" = 2·2^30).
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12},
	{"B", 1},
}

// ParseSize parses a size such as "5GB", "500MB", "2GiB" or "1000" (bytes).
//
// Units are case-insensitive: KB, MB, GB, TB (and K, M, G, T) are powers of 1000
// as in huggingface_hub; KiB, MiB, GiB, TiB are powers of 1024; B or no unit means
// bytes. The number may have a decimal fraction ("1.5GB"); the result is rounded
// down to whole bytes and must be positive.
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			mult = u.mult
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			break
		}
	}
	bad := func() (int64, error) {
		return 0, fmt.Errorf("checkpoint: invalid size %q (want e.g. 5GB, 500MB, 2GiB or a number of bytes)", s)
	}
	if t == "" || strings.ContainsAny(t, "eE+-/") {
		return bad()
	}
	r, ok := new(big.Rat).SetString(t)
	if !ok {
		return bad()
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() {
		return 0, fmt.Errorf("checkpoint: size %q is too large", s)
	}
	if n.Sign() <= 0 {
		return 0, fmt.Errorf("checkpoint: size %q is not positive", s)
	}
	return n.Int64(), nil
}
