package herald

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// crockford is the ULID alphabet: no I, L, O or U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var ulidState struct {
	sync.Mutex
	lastMS  uint64
	entropy [10]byte
}

// NewID returns a ULID: 26 characters, sortable by creation time, strictly
// increasing within this process (the random part is incremented when two
// ids share a millisecond), so ids double as pagination cursors.
func NewID() string { return newIDAt(time.Now()) }

func newIDAt(t time.Time) string {
	ms := uint64(t.UnixMilli())
	s := &ulidState
	s.Lock()
	if ms <= s.lastMS {
		ms = s.lastMS
		// increment the 80-bit random part as a big-endian counter
		for i := len(s.entropy) - 1; i >= 0; i-- {
			s.entropy[i]++
			if s.entropy[i] != 0 {
				break
			}
		}
	} else {
		s.lastMS = ms
		if _, err := rand.Read(s.entropy[:]); err != nil {
			panic("herald: crypto/rand failed: " + err.Error())
		}
		s.entropy[0] &= 0x7f // leave room for increments within one millisecond
	}
	var raw [16]byte
	binary.BigEndian.PutUint16(raw[0:2], uint16(ms>>32))
	binary.BigEndian.PutUint32(raw[2:6], uint32(ms))
	copy(raw[6:], s.entropy[:])
	s.Unlock()
	return encodeULID(raw)
}

func encodeULID(id [16]byte) string {
	var dst [26]byte
	// 128 bits in 26 base32 characters: the first character carries 3 bits.
	hi := binary.BigEndian.Uint64(id[0:8])
	lo := binary.BigEndian.Uint64(id[8:16])
	for i := 25; i >= 0; i-- {
		dst[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(dst[:])
}

// ValidID reports whether s looks like an id herald issued (a ULID), so
// handlers refuse malformed ids before they reach the store.
func ValidID(s string) bool {
	if len(s) != 26 || s[0] > '7' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') || c == 'I' || c == 'L' || c == 'O' || c == 'U' {
			return false
		}
	}
	return true
}
