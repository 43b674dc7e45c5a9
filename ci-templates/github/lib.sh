# Sourced (bash) by the run step of every shipkit composite action in ci-templates/github/.
# Inputs arrive as environment variables only (never ${{ }} in scripts): SHIPKIT_* for the tools' own
# env vars, INPUT_* for what the step turns into flags.
set -euo pipefail

# An empty input means "not given": drop it so the tool applies shipkit.yml or its default
# (clap would take an empty SHIPKIT_* variable as an empty value).
while IFS= read -r _name; do
  unset "$_name"
done < <(env | sed -n 's/^\(SHIPKIT_[A-Z0-9_]*\)=$/\1/p')

# shipkit_install <tool>: install the pinned release (input shipkit-version, else the job's
# SHIPKIT_INSTALL_VERSION) into the runner's tool cache, verified; a no-op when it is already there.
shipkit_install() {
  local bin="${RUNNER_TOOL_CACHE:-$HOME/.cache}/shipkit/bin"
  SHIPKIT_INSTALL_VERSION="${INPUT_SHIPKIT_VERSION:-${SHIPKIT_INSTALL_VERSION:-}}" \
    sh "$GITHUB_ACTION_PATH/../../../install.sh" --tools "$1" --to "$bin"
  export PATH="$bin:$PATH"
  echo "$bin" >> "$GITHUB_PATH"
}

# shipkit_lines <flag> <text>: append "<flag> line" to the array `args` for each non-blank line
# (values may hold commas).
shipkit_lines() {
  local flag=$1 item
  while IFS= read -r item; do
    [ -z "${item//[[:space:]]/}" ] || args+=("$flag" "$item")
  done <<< "$2"
}
