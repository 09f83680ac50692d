#!/bin/sh
# Echo the identity Apache authenticated (internal/lab). Tests match the
# "user=" line; the other lines help when a test fails.
printf 'Content-Type: text/plain\r\n\r\n'
printf 'user=%s\n' "$REMOTE_USER"
printf 'auth_type=%s\n' "$AUTH_TYPE"
printf 'gss_name=%s\n' "$GSS_NAME"
printf 'https=%s\n' "${HTTPS:-off}"
printf 'proxy_user=%s\n' "$HTTP_X_PROXY_USER"
printf 'via=%s\n' "$HTTP_VIA"
