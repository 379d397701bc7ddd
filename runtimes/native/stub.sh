#!/bin/bash
# The action of a native container that was initialised without code (as in OpenWhisk's
# dockerskeleton). A native action is any executable /action/exec: it gets the JSON argument as
# $1 (up to 128 KB) and on stdin, may log to stdout/stderr, and prints its JSON result as the
# last line of stdout.
echo "command line argument length: ${#1}"
echo '{ "error": "This is a stub action. Replace it with custom logic." }'
