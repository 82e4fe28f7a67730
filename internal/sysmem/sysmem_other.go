//go:build !linux

package sysmem

func total() (uint64, bool) { return 0, false }

func peakRSS() (uint64, bool) { return 0, false }

func freeDisk(string) (uint64, bool) { return 0, false }
