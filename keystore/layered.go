package keystore

import "errors"

// Layered is a Store in which the environment wins over the backing store:
// Get asks Env first, then Store. Set and Delete go to Store. It reports
// where each secret came from (for `paragon auth status`).
type Layered struct {
	Env   Store
	Store Store
}

// WithEnv layers the environment (NewEnv(getenv); os.Getenv when nil) over
// s.
func WithEnv(s Store, getenv func(string) string) *Layered {
	return &Layered{Env: NewEnv(getenv), Store: s}
}

// Name returns the backing store's name.
func (l *Layered) Name() string { return l.Store.Name() }

// Lookup returns the item's value and its source: the Name of the layer that
// had it ("environment", "keyring", "file", "memory").
func (l *Layered) Lookup(profile, item string) (value, source string, err error) {
	v, err := l.Env.Get(profile, item)
	if err == nil {
		return v, l.Env.Name(), nil
	}
	if !errors.Is(err, ErrNotFound) {
		return "", "", err
	}
	v, err = l.Store.Get(profile, item)
	if err != nil {
		return "", "", err
	}
	return v, l.Store.Name(), nil
}

// Get implements Store.
func (l *Layered) Get(profile, item string) (string, error) {
	v, _, err := l.Lookup(profile, item)
	return v, err
}

// GetItems implements BatchGetter: the environment's items, the others
// from the backing store in one GetItems.
func (l *Layered) GetItems(profile string, items []string) (map[string]string, error) {
	vals, err := getEach(l.Env, profile, items)
	if err != nil {
		return nil, err
	}
	var rest []string
	for _, it := range items {
		if _, ok := vals[it]; !ok {
			rest = append(rest, it)
		}
	}
	if len(rest) == 0 {
		return vals, nil
	}
	stored, err := GetItems(l.Store, profile, rest...)
	if err != nil {
		return nil, err
	}
	for it, v := range stored {
		vals[it] = v
	}
	return vals, nil
}

// Set implements Store: it writes to the backing store.
func (l *Layered) Set(profile, item, value string) error { return l.Store.Set(profile, item, value) }

// Delete implements Store: it deletes from the backing store.
func (l *Layered) Delete(profile, item string) error { return l.Store.Delete(profile, item) }

// SetItems implements Batcher through the backing store.
func (l *Layered) SetItems(profile string, entries []Entry) error {
	return SetItems(l.Store, profile, entries)
}
