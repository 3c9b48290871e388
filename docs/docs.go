// Package docs holds the user-facing documentation that herald serves
// itself, so a self-hosted install has it offline.
package docs

import _ "embed"

// Templates is templates.md: the payload template reference (what is
// supported, what differs from Twig and why).
//
//go:embed templates.md
var Templates []byte
