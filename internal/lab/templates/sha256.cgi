#!/bin/sh
# Echoes who authenticated and the SHA-256 of the request body, so tests
# can prove an upload arrived intact.
printf 'Content-Type: text/plain\r\n\r\n'
echo "user=$REMOTE_USER"
echo "length=${CONTENT_LENGTH:-0}"
echo "sha256=$(sha256sum | cut -d' ' -f1)"
