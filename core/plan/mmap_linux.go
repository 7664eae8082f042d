//go:build linux

package plan

import "syscall"

const mapPopulate = syscall.MAP_POPULATE
