package sysmem

import (
	"runtime"
	"testing"
)

func TestTotal(t *testing.T) {
	n := Total()
	if runtime.GOOS == "linux" && n == Fallback {
		t.Errorf("Total() = the fallback on Linux, want the physical memory")
	}
	if n < 1<<26 {
		t.Errorf("Total() = %d bytes, less than 64 MiB", n)
	}
}

func TestBytes(t *testing.T) {
	tests := []struct {
		n    float64
		want string
	}{
		{0, "0 B"},
		{512, "512 B"},
		{1536, "1.5 KiB"},
		{2.5 * (1 << 30), "2.5 GiB"},
		{3 << 40, "3.0 TiB"},
		{1e25, "8.67e+06 EiB"},
	}
	for _, tc := range tests {
		if got := Bytes(tc.n); got != tc.want {
			t.Errorf("Bytes(%g) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestPeakRSS(t *testing.T) {
	before, ok := PeakRSS()
	if !ok {
		t.Skip("no peak resident set on this system")
	}
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	after, _ := PeakRSS()
	if after < before || after < 64<<20 {
		t.Errorf("peak RSS %d before, %d after touching 64 MiB", before, after)
	}
	_ = buf[len(buf)-1]
}
