module github.com/libhostdev/libhostdev/bindings

go 1.19
