#!/usr/bin/env bash
# Create or update mosquitto's password file for the project's users. Safe to run again and again.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: $0 [--owner USER[:GROUP]] [--delete] [DISPLAY_NODE_ID...]

Creates or updates mosquitto/passwd (hashed, read by the broker) for the users
  publisher homeassistant operator office-bridge
plus one user per display node named on the command line (its user name is its node_id). A node_id may
not be one of those role names, nor the topic prefix (read from the acl's publisher block).

Each user's password is kept in plain text in mosquitto/secrets/<user> (mode 600, never committed):
an existing file is reused, a missing one gets a new random password. To choose a password, write it
to that file first and run this script again. Running it twice changes nothing.

  --delete NODE_ID...   remove these display users from the password file and their secrets
  --owner USER[:GROUP]  (as root) give the password file to the broker's user with mode 600, e.g.
                        --owner 1883:1883 for the eclipse-mosquitto image. Without it the file is
                        mode 644: the broker reads it after dropping root, as its own unprivileged user.

Environment: FDC_MOSQUITTO_DIR (default: the folder of this script), MOSQUITTO_PASSWD (default: mosquitto_passwd).
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${FDC_MOSQUITTO_DIR:-$here}"
passwd_file="$dir/passwd"
secrets="$dir/secrets"
mosquitto_passwd="${MOSQUITTO_PASSWD:-mosquitto_passwd}"
roles=(publisher homeassistant operator office-bridge)
# The topic prefix, as the acl spells it (the publisher's `topic readwrite <prefix>/weeks` line). A display
# named like it could write the publisher's Home Assistant configs (homeassistant/+/<prefix>/...).
acl="$dir/acl"
[ -f "$acl" ] || acl="$here/acl"
prefix="$(sed -n 's|^topic readwrite \(.*\)/weeks$|\1|p' "$acl" 2>/dev/null | head -n 1)"
prefix="${prefix:-friday-deploy}"
prefix_node="$(printf '%s' "$prefix" | tr -c 'A-Za-z0-9_-' '_' | sed 's/^_*//; s/_*$//')"

delete=false
owner=""
nodes=()
while [ $# -gt 0 ]; do
  arg="$1"; shift
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --delete) delete=true ;;
    --owner)
      if [ $# -eq 0 ] || [ -z "$1" ]; then echo "error: --owner needs a user, e.g. --owner 1883:1883" >&2; exit 2; fi
      owner="$1"; shift ;;
    -*) echo "error: unknown option $arg" >&2; usage >&2; exit 2 ;;
    *)
      if [[ ! "$arg" =~ ^[A-Za-z0-9_-]+$ ]]; then
        echo "error: '$arg' is not a usable node_id: use letters, digits, '_' and '-' only" >&2; exit 2
      fi
      nodes+=("$arg") ;;
  esac
done

if ! $delete; then
  for node in "${nodes[@]}"; do
    for role in "${roles[@]}"; do
      if [ "$node" = "$role" ]; then
        echo "error: '$node' is the name of a role, not of a display node: choose another node_id" >&2; exit 2
      fi
    done
    if [ "$node" = "$prefix" ] || [ "$node" = "$prefix_node" ]; then
      echo "error: '$node' is the topic prefix, which names the publisher's Home Assistant entities:" \
        "choose another node_id" >&2
      exit 2
    fi
  done
fi

if ! command -v "$mosquitto_passwd" >/dev/null 2>&1; then
  echo "error: $mosquitto_passwd not found: apt-get install mosquitto (it ships mosquitto_passwd)" >&2
  exit 1
fi

umask 077
mkdir -p "$secrets"
[ -e "$passwd_file" ] || : > "$passwd_file"

if $delete; then
  if [ ${#nodes[@]} -eq 0 ]; then echo "error: --delete needs the node_id(s) to remove" >&2; exit 2; fi
  for node in "${nodes[@]}"; do
    for role in "${roles[@]}"; do
      if [ "$node" = "$role" ]; then echo "error: refusing to delete the $role user" >&2; exit 2; fi
    done
    if grep -q "^${node}:" "$passwd_file"; then
      "$mosquitto_passwd" -D "$passwd_file" "$node"
      echo "deleted user $node"
    fi
    rm -f "$secrets/$node"
  done
  exit 0
fi

for user in "${roles[@]}" "${nodes[@]}"; do
  secret="$secrets/$user"
  if [ -s "$secret" ]; then
    password="$(head -n 1 "$secret")"
    what="kept"
  else
    password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    printf '%s\n' "$password" > "$secret"
    what="new"
  fi
  if [ -z "$password" ]; then echo "error: $secret starts with an empty line" >&2; exit 1; fi
  # Hash only what is missing or changed (a secret file newer than the password file), so that a second
  # run leaves the password file as it is. -b touches this one user; the others are kept.
  if ! grep -q "^${user}:" "$passwd_file" || [ "$secret" -nt "$passwd_file" ]; then
    "$mosquitto_passwd" -b "$passwd_file" "$user" "$password"
    [ "$what" = new ] || what="updated"
  fi
  echo "$user: $what password (in ${secret#"$PWD"/})"
done
if [ -n "$owner" ]; then
  chown "$owner" "$passwd_file"
  chmod 600 "$passwd_file"
else
  # Only salted hashes of (by default random 128-bit) passwords; the broker's own user must read it.
  chmod 644 "$passwd_file"
fi
echo "password file: $passwd_file ($(wc -l < "$passwd_file") users). Restart the broker to load it."
