// Package sysmem reports how much memory the machine has, so that plans can
// refuse work that cannot fit before they allocate anything.
package sysmem

import "fmt"

// Fallback is the memory assumed where the operating system does not say:
// 1 TiB, so that only absurd sizes are refused there.
const Fallback = 1 << 40

// Total returns the machine's physical memory in bytes, or Fallback where it
// cannot be read.
func Total() uint64 {
	if n, ok := total(); ok && n > 0 {
		return n
	}
	return Fallback
}

// PeakRSS returns the largest resident set of this process so far, in
// bytes (getrusage's ru_maxrss); ok is false where the system does not say.
func PeakRSS() (n uint64, ok bool) { return peakRSS() }

// FreeDisk returns the bytes an unprivileged user may still write on the
// file system that holds dir; ok is false where the system does not say.
func FreeDisk(dir string) (n uint64, ok bool) { return freeDisk(dir) }

// Bytes formats n bytes for a message: "2.5 GiB", "3.1 TiB", "512 B".
func Bytes(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	if n >= 1e4 {
		return fmt.Sprintf("%.3g %s", n, units[i])
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}
