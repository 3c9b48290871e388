package herald

import (
	"strings"
	"testing"
	"time"
)

// The ULID specification's example: 01ARZ3NDEK is 1469922850259 ms.
func TestULIDTimestampEncoding(t *testing.T) {
	ulidState.Lock()
	ulidState.lastMS = 0
	ulidState.Unlock()
	id := newIDAt(time.UnixMilli(1469922850259))
	if !strings.HasPrefix(id, "01ARZ3NDEK") {
		t.Fatalf("id = %s, want prefix 01ARZ3NDEK", id)
	}
}

func TestNewIDIsMonotonicAndValid(t *testing.T) {
	prev := NewID()
	for i := 0; i < 10000; i++ {
		id := NewID()
		if id <= prev {
			t.Fatalf("id %s not after %s", id, prev)
		}
		if !ValidID(id) {
			t.Fatalf("ValidID(%s) = false", id)
		}
		prev = id
	}
	for _, bad := range []string{"", "01ARZ3NDEKTSV4RRFFQ69G5FA", "01ARZ3NDEKTSV4RRFFQ69G5FAVX", "81ARZ3NDEKTSV4RRFFQ69G5FAV", "01ARZ3NDEKTSV4RRFFQ69G5FAu", "01ARZ3NDEKTSV4RRFFQ69G5FAI", "../../etc/passwd__________"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}
