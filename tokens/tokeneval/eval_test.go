package tokeneval

import (
	"fmt"
	"testing"
)

// TestWindows: a sequence longer than the model's positions is cut into
// windows of at most max ids that cover every id once, each after the first
// starting again with the start token.
func TestWindows(t *testing.T) {
	for _, c := range []struct {
		n, max int
		first  []int
		want   string
	}{
		{5, 8, []int{1}, "[[0 1 2 3 4]]"},
		{8, 4, []int{1}, "[[0 1 2 3] [1 4 5 6] [1 7]]"},
		{7, 4, nil, "[[0 1 2 3] [3 4 5 6]]"},
	} {
		ids := make([]int, c.n)
		for i := range ids {
			ids[i] = i
		}
		m := &model{first: c.first, max: c.max}
		if got := fmt.Sprint(m.windows(ids)); got != c.want {
			t.Errorf("%d ids, max %d, first %v: %s, want %s", c.n, c.max, c.first, got, c.want)
		}
	}
}
