package main

import (
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"unknown flag", []string{"inspect", "--no-such-flag", testModel("stories260k")}, 2},
		{"bad flag value", []string{"check", "--probes", "many", testModel("stories260k"), testModel("stories260k")}, 2},
		{"missing argument", []string{"inspect"}, 2},
		{"missing model", []string{"inspect", "no/such/model"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := growExec(t, tc.args...)
			if err == nil {
				t.Fatal("no error")
			}
			if got := exitCode(err); got != tc.want {
				t.Errorf("exit status %d for %v, want %d", got, err, tc.want)
			}
		})
	}
	if got := exitCode(fmt.Errorf("wrapped: %w", errInterrupted)); got != 130 {
		t.Errorf("interrupted: exit status %d, want 130", got)
	}
	if got := exitCode(errCheckFailed); got != 1 {
		t.Errorf("check failed: exit status %d, want 1", got)
	}
}

func TestParseIDs(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		err  bool
	}{
		{"1,403,407", []int{1, 403, 407}, false},
		{"1, 403 ,407", []int{1, 403, 407}, false},
		{"1 403\t407", []int{1, 403, 407}, false},
		{"", nil, false},
		{"7", []int{7}, false},
		{"1,,2", nil, true},
		{"1,2,", nil, true},
		{",1", nil, true},
		{"1,-2", nil, true},
		{"1,x", nil, true},
	}
	for _, tc := range tests {
		got, err := parseIDs(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("parseIDs(%q): error %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("parseIDs(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
