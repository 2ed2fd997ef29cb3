#!/bin/sh
# Prints a greeting from inside the environment.
echo "${GREETING:-hi} from $(hostname), ${WHO:-someone} (uid $(id -u))"
