package herald

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// apiKeyRevoker is the part of UserStore that lists and revokes keys; a
// Service whose Store has it (the SQL stores do) can revoke.
type apiKeyRevoker interface {
	ListAPIKeys(ctx context.Context, workspaceID string) ([]*APIKey, error)
	RevokeAPIKey(ctx context.Context, workspaceID, id string, at time.Time) error
}

// CreateAPIKey makes an API key of the workspace with the given scopes
// and records the change in the audit log. The key is returned once; only
// its hash is stored. EInvalid names the field: a name that is empty or
// longer than MaxNameLength, no scope, or an unknown one.
func (s *Service) CreateAPIKey(ctx context.Context, workspaceID, name string, scopes []Scope) (key string, rec *APIKey, err error) {
	name = strings.TrimSpace(name)
	var v Validation
	switch {
	case name == "":
		v.Add("name", "is required: say what uses the key")
	case len(name) > MaxNameLength:
		v.Add("name", "must be at most %d characters", MaxNameLength)
	}
	var unique []Scope
	for _, sc := range scopes {
		if sc != ScopeAdmin && sc != ScopeRead && sc != ScopeIngest {
			v.Add("scopes", "unknown scope %q (admin, read, ingest)", sc)
			continue
		}
		if !slices.Contains(unique, sc) {
			unique = append(unique, sc)
		}
	}
	if len(scopes) == 0 {
		v.Add("scopes", "choose at least one scope: admin, read or ingest")
	}
	if err := v.Err(); err != nil {
		return "", nil, err
	}
	key, rec = NewAPIKey(workspaceID, name, unique, s.now())
	if err := s.Store.CreateAPIKey(ctx, rec); err != nil {
		return "", nil, fmt.Errorf("create api key: %w", err)
	}
	s.RecordAudit(ctx, workspaceID, "api_key.create", "api_key", rec.ID, fmt.Sprintf("%s (%s…)", name, rec.Prefix))
	return key, rec, nil
}

// RevokeAPIKey revokes one of the workspace's keys (requests with it are
// refused from then on), records it in the audit log under the key's
// name, and returns the key as revoked. ENotFound if the workspace has no
// such key, EConflict if it was already revoked.
func (s *Service) RevokeAPIKey(ctx context.Context, workspaceID, id string) (*APIKey, error) {
	keys, ok := s.Store.(apiKeyRevoker)
	if !ok {
		return nil, Errorf(EInternal, "this store cannot revoke API keys")
	}
	all, err := keys.ListAPIKeys(ctx, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	i := slices.IndexFunc(all, func(k *APIKey) bool { return k.ID == id })
	if i < 0 {
		return nil, ErrNotFound
	}
	k := all[i]
	if k.RevokedAt != nil {
		return nil, Errorf(EConflict, "the API key %q was already revoked", k.Name)
	}
	at := s.now()
	if err := keys.RevokeAPIKey(ctx, workspaceID, id, at); err != nil {
		return nil, err
	}
	k.RevokedAt = &at
	s.RecordAudit(ctx, workspaceID, "api_key.revoke", "api_key", k.ID, k.Name)
	return k, nil
}
