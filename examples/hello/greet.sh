#!/bin/sh
# Print a greeting for the first argument (default: world).
echo "${GREETING:-hello}, ${1:-world}!"
