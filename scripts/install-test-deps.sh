#!/usr/bin/env bash
# Installs what the tests need beyond Go modules, from Debian's packages:
# git (its daemon and http-backend serve the test repositories on loopback).
set -euo pipefail

need=()
command -v git >/dev/null 2>&1 || need+=(git)
if command -v git >/dev/null 2>&1; then
	exec_path=$(git --exec-path)
	[ -x "$exec_path/git-daemon" ] || need+=(git)
	[ -x "$exec_path/git-http-backend" ] || need+=(git)
fi
if [ ${#need[@]} -gt 0 ]; then
	echo "installing: ${need[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi
