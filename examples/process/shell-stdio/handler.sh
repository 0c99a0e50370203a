#!/bin/sh
# A stdio-mode function: the request body arrives on stdin, the request itself in CGI
# variables; what goes to stdout is the response body. A non-zero exit is an error.
set -eu
words=$(wc -w)
echo "method=$REQUEST_METHOD path=$PATH_INFO query=$QUERY_STRING words=$words"
echo "counted $words words" >&2
