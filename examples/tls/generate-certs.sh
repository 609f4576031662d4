#!/usr/bin/env bash
# Makes a self-signed certificate for localhost in examples/tls/ (server.crt, server.key).
set -euo pipefail
cd "$(dirname "$0")"
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout server.key -out server.crt 2>/dev/null
chmod 600 server.key
echo "wrote $(pwd)/server.crt and server.key"
