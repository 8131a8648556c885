// Package actors holds ucgrid's virtual actors: the user, group and line
// grains that own the runtime state of their subject (presence, line and call
// state, watchers, rights caches, ringing state), their protobuf messages,
// and the per-node session hubs that presence fan-out writes to.
//
// Decisions are made by pure packages (actors/rights for the rights engine);
// the grains only translate messages and carry out the effects. Grains arrive
// with the actors issue; today the package holds only its rights engine.
package actors
