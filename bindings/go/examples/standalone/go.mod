module example.com/hostdev-standalone

go 1.19

require github.com/libhostdev/libhostdev/bindings v0.0.0

// The binding from this source tree (a checkout, or the copy a distribution ships): no download.
replace github.com/libhostdev/libhostdev/bindings => ../../..
