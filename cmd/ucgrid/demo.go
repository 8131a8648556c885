package main

import (
	"errors"
	"strconv"
)

// demo parses --demo ("" is false).
func (o serveOptions) demo() (bool, error) {
	if o.Demo == "" {
		return false, nil
	}
	v, err := strconv.ParseBool(o.Demo)
	if err != nil {
		return false, errors.New("--demo " + strconv.Quote(o.Demo) + ": give true or false")
	}
	return v, nil
}

// validateDemo refuses --demo with --join: the first node fills the
// directory, the others get it from the cluster.
func (o serveOptions) validateDemo() error {
	v, err := o.demo()
	if err != nil {
		return err
	}
	if v && o.Join != "" {
		return errors.New("--demo fills the directory of a new cluster: give it to the first node only, not with --join")
	}
	return nil
}
