#!/bin/sh
# shipkit installer: downloads pinned release archives, verifies the release's signature on SHA256SUMS and
# every archive against SHA256SUMS, installs the tools.
#
#   curl -fsSL https://github.com/shipkit/shipkit/releases/download/v0.1.0/install.sh | sh -s -- --version 0.1.0
#   sh install.sh --version 0.1.0 --tools version-detect,notify --to ./bin --base-url https://mirror.example/shipkit
#
# Layout of a release location (--base-url): <base-url>/v<version>/<tool>-<version>-<target>.tar.gz and
# <base-url>/v<version>/SHA256SUMS; for `--version latest`, <base-url>/latest holds the version (one line).
# GitHub Releases fit this as they are: --base-url https://github.com/OWNER/REPO/releases/download.
#
# POSIX sh; needs curl or wget, tar, gzip, sha256sum or `shasum -a 256` (or openssl), and to check the
# signature either minisign or OpenSSL 3 (`openssl pkeyutl -rawin`), unless --sums-sha256 pins the sums.
# Exit codes as every shipkit tool's: 2 bad flags or unsupported platform, 5 a needed program is missing,
# 7 download failed, 10 refused (bad or missing signature, checksum mismatch or missing), 1 anything else.

set -u
set -f # no globbing: every word below is data

ALL_TOOLS="version-detect,docker-tag-push,deploy-ecs,notify"
KNOWN_TOOLS="$ALL_TOOLS,shipkit" # shipkit: the four in one binary (README "shipkit (one binary)")
DEFAULT_BASE_URL="https://github.com/shipkit/shipkit/releases/download"

# The release keys this installer trusts: SHA256SUMS must carry a valid Ed25519 signature by one of them
# (SHA256SUMS.minisig checked with minisign, or SHA256SUMS.sig with OpenSSL 3). One line per key, as printed by
# `scripts/release-key line KEY.pem`: `ed25519 <public key> <minisign public key> <name>`.
# Rotation: add the new key's line, sign releases with the new key, drop the old line one release later.
# `scripts/dist --trust-key` adds the signing key's line to the copy of this script shipped in a release.
TRUSTED_KEYS='
'

usage() {
    cat <<'EOF'
shipkit installer: install pinned, checksum-verified shipkit tools.

usage: install.sh --version X [--tools a,b] [--to DIR] [--base-url URL] [--target TRIPLE] [--force]
                  [--links] [--docs] [--docs-dir DIR]
                  [--sums-sha256 HEX]

  --version X       the release to install, e.g. 0.1.0 (required: never an implicit "latest";
                    `latest` only when asked, read from <base-url>/latest)  [env SHIPKIT_INSTALL_VERSION]
  --tools a,b       which tools (default: version-detect,docker-tag-push,deploy-ecs,notify; or
                    shipkit, the four in one binary)                        [env SHIPKIT_INSTALL_TOOLS]
  --links           with shipkit: also link version-detect, docker-tag-push, deploy-ecs and notify to it
                    in --to (never over a file that is not such a link)     [env SHIPKIT_INSTALL_LINKS=1]
  --docs            also install the shell completions (bash, zsh, fish) and man pages from the archives
                                                                            [env SHIPKIT_INSTALL_DOCS=1]
  --docs-dir DIR    where --docs puts them: DIR/bash-completion/completions, DIR/zsh/site-functions,
                    DIR/fish/vendor_completions.d, DIR/man/man1
                    (default: ${XDG_DATA_HOME:-$HOME/.local/share})        [env SHIPKIT_INSTALL_DOCS_DIR]
  --to DIR          where to put them (default: $HOME/.local/bin)          [env SHIPKIT_INSTALL_DIR]
  --base-url URL    release location: GitHub Releases (the default), a mirror, an artifact store
                    (https; http only on 127.0.0.1/localhost)               [env SHIPKIT_BASE_URL]
  --target TRIPLE   override the detected target, e.g. aarch64-unknown-linux-musl
                                                                            [env SHIPKIT_INSTALL_TARGET]
  --force           download and install even when the same version is already in --to
                                                                            [env SHIPKIT_INSTALL_FORCE=1]
  --sums-sha256 HEX trust the release's SHA256SUMS only if its own sha256 is HEX (for mirrors and
                    air-gapped copies; replaces the signature check)   [env SHIPKIT_INSTALL_SUMS_SHA256]
  -h, --help        this text

SHA256SUMS must be signed by a release key this script carries (minisign or OpenSSL 3 verifies it), or
match --sums-sha256; then every archive is checked against SHA256SUMS before anything is installed. A
missing or bad signature, a mismatch or a missing checksum installs nothing (exit 10). A tool whose `<tool> --version` in --to already prints the
requested version is not downloaded again, so a cached --to directory makes the step a no-op.

examples:
  curl -fsSL https://github.com/shipkit/shipkit/releases/download/v0.1.0/install.sh | sh -s -- --version 0.1.0
  sh install.sh --version 0.1.0 --tools version-detect,docker-tag-push --to /usr/local/bin
  sh install.sh --version 0.1.0 --tools shipkit --links --docs      # one binary, the four names, completions
  SHIPKIT_BASE_URL=https://artifacts.internal/shipkit sh install.sh --version latest

exit codes: 0 ok, 1 failed, 2 bad flags or unsupported platform, 5 curl/wget/tar/sha256sum (or
minisign/openssl 3 to check the signature) missing, 7 download failed, 10 refused (signature missing or
bad, checksum mismatch or missing)
EOF
}

say() { printf 'install.sh: %s\n' "$*" >&2; }

# die <exit code> <message> [hint]
die() {
    if [ -n "${3:-}" ]; then
        printf 'install.sh: error: %s (hint: %s)\n' "$2" "$3" >&2
    else
        printf 'install.sh: error: %s\n' "$2" >&2
    fi
    exit "$1"
}

has() { command -v "$1" >/dev/null 2>&1; }

# A URL for messages: credentials in it (https://user:token@host/...) are never printed.
shown() { printf '%s' "$1" | sed 's#://[^/@]*@#://***@#'; }

# Target detection in the manner of rustup-init.sh: kernel from uname -s, CPU from uname -m, a 32-bit
# userland on a 64-bit kernel from the ELF class of /bin/sh, the C library from ldd. shipkit's Linux
# builds are static musl binaries, so they run on glibc and musl systems alike.
detect_target() {
    _os=$(uname -s)
    _cpu=$(uname -m)
    case "$_os" in
        Linux) ;;
        *) die 2 "no prebuilt shipkit for $_os" \
            "build from source: cargo install --git https://github.com/shipkit/shipkit version-detect" ;;
    esac
    case "$_cpu" in
        x86_64 | x86-64 | x64 | amd64) _cpu=x86_64 ;;
        aarch64 | arm64) _cpu=aarch64 ;;
        *) die 2 "no prebuilt shipkit for the CPU '$_cpu'" "build from source with cargo install" ;;
    esac
    if has od && [ -r /bin/sh ]; then
        _class=$(od -An -t x1 -j 4 -N 1 /bin/sh 2>/dev/null | tr -d ' \n')
        if [ "$_class" = 01 ]; then
            die 2 "32-bit userland on a 64-bit kernel: no prebuilt shipkit for it" "build from source with cargo install"
        fi
    fi
    _libc=glibc
    if ldd --version 2>&1 | grep -q musl; then
        _libc=musl
    fi
    DETECTED_LIBC=$_libc
    RETVAL="$_cpu-unknown-linux-musl"
}

# download <url> <file>: curl or wget, https (http only to loopback), a few retries.
download() {
    _proto="=https"
    case "$(printf '%s' "$1" | sed 's#://[^/@]*@#://#')" in
        https://*) ;;
        http://127.0.0.1[:/]* | http://localhost[:/]* | http://\[::1\][:/]*) _proto="=http" ;;
        *) die 2 "refusing to download over an insecure or unknown scheme: $(shown "$1")" "use an https:// --base-url" ;;
    esac
    if has curl; then
        # https stays https through redirects (GitHub Releases redirect to its object store)
        curl -fsSL --proto "$_proto" --proto-redir "$_proto" --retry 3 --connect-timeout 15 -o "$2" "$1"
    elif has wget; then
        wget -q -O "$2" "$1"
    else
        die 5 "neither curl nor wget is installed" "install curl (apt-get install curl, apk add curl)"
    fi
}

sha256_of() {
    if has sha256sum; then
        sha256sum "$1" | cut -d ' ' -f 1
    elif has shasum; then
        shasum -a 256 "$1" | cut -d ' ' -f 1
    elif has openssl; then
        openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
    fi
}

# expected_sum <SHA256SUMS> <file name>: the checksum listed for that file, or nothing.
expected_sum() {
    awk -v f="$2" '($2 == f || $2 == "*" f) && length($1) == 64 { print tolower($1); exit }' "$1"
}

# installed_version_matches <binary> <version>: does `<binary> --version` print that version?
installed_version_matches() {
    [ -x "$1" ] || return 1
    _out=$("$1" --version </dev/null 2>/dev/null) || return 1
    case " $_out " in
        *" $2 "* | *" v$2 "*) return 0 ;;
        *) return 1 ;;
    esac
}

# Can this openssl verify raw Ed25519 signatures (OpenSSL 3's `pkeyutl -rawin`)?
openssl_verifies_ed25519() {
    has openssl && openssl pkeyutl -help 2>&1 | grep -q -- '-rawin'
}

# verify_sums <dir> <release url>: trust <dir>/SHA256SUMS only when it matches --sums-sha256, or carries a
# valid signature by one of TRUSTED_KEYS. Fails closed (exit 10) otherwise.
verify_sums() {
    if [ -n "$sums_pin" ]; then
        _got=$(sha256_of "$1/SHA256SUMS")
        [ "$_got" = "$sums_pin" ] || die 10 "SHA256SUMS does not match --sums-sha256 (expected $sums_pin, got $_got): refusing to install" \
            "the release's sums file is not the one you pinned; nothing was installed"
        say "SHA256SUMS matches the pinned --sums-sha256"
        return 0
    fi
    _keys=$(printf '%s\n' "$TRUSTED_KEYS" | grep '^ed25519 [A-Za-z0-9+/=]* [A-Za-z0-9+/=]*' || true)
    [ -n "$_keys" ] || die 10 "this install.sh trusts no release key, so it cannot verify SHA256SUMS" \
        "use the install.sh of a signed release, or pin the sums with --sums-sha256 HEX; nothing was installed"
    if has minisign; then
        download "$2/SHA256SUMS.minisig" "$1/SHA256SUMS.minisig" 2>/dev/null ||
            die 10 "the release has no SHA256SUMS.minisig: refusing unsigned checksums" "nothing was installed"
        while read -r _kind _pk _ms _name; do
            if minisign -V -q -m "$1/SHA256SUMS" -x "$1/SHA256SUMS.minisig" -P "$_ms" >/dev/null 2>&1; then
                say "SHA256SUMS signed by $_name (verified with minisign)"
                return 0
            fi
        done <<EOF
$_keys
EOF
    elif openssl_verifies_ed25519; then
        download "$2/SHA256SUMS.sig" "$1/SHA256SUMS.sig" 2>/dev/null ||
            die 10 "the release has no SHA256SUMS.sig: refusing unsigned checksums" "nothing was installed"
        openssl base64 -d -A -in "$1/SHA256SUMS.sig" -out "$1/SHA256SUMS.sig.bin" 2>/dev/null ||
            die 10 "SHA256SUMS.sig is not a base64 signature: refusing to install" "nothing was installed"
        while read -r _kind _pk _ms _name; do
            # SubjectPublicKeyInfo for Ed25519: a fixed 12-byte prefix (base64 MCowBQYDK2VwAyEA) + the 32-byte key
            printf -- '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA%s\n-----END PUBLIC KEY-----\n' "$_pk" > "$1/key.pem"
            if openssl pkeyutl -verify -pubin -inkey "$1/key.pem" -rawin -in "$1/SHA256SUMS" \
                -sigfile "$1/SHA256SUMS.sig.bin" >/dev/null 2>&1; then
                say "SHA256SUMS signed by $_name (verified with openssl)"
                return 0
            fi
        done <<EOF
$_keys
EOF
    else
        die 5 "neither minisign nor OpenSSL 3 is installed to verify the release signature" \
            "install openssl (3.x) or minisign, or pin the sums with --sums-sha256 HEX"
    fi
    die 10 "bad signature on SHA256SUMS: no release key this installer trusts signed it" \
        "the release or the mirror is tampered with, or signed by an unknown key; nothing was installed"
}

main() {
    version=${SHIPKIT_INSTALL_VERSION:-}
    sums_pin=${SHIPKIT_INSTALL_SUMS_SHA256:-}
    tools=${SHIPKIT_INSTALL_TOOLS:-$ALL_TOOLS}
    to=${SHIPKIT_INSTALL_DIR:-}
    base_url=${SHIPKIT_BASE_URL:-$DEFAULT_BASE_URL}
    target=${SHIPKIT_INSTALL_TARGET:-}
    case "${SHIPKIT_INSTALL_FORCE:-}" in
        1 | true | yes) force=yes ;;
        *) force=no ;;
    esac
    case "${SHIPKIT_INSTALL_LINKS:-}" in 1 | true | yes) links=yes ;; *) links=no ;; esac
    case "${SHIPKIT_INSTALL_DOCS:-}" in 1 | true | yes) docs=yes ;; *) docs=no ;; esac
    docs_dir=${SHIPKIT_INSTALL_DOCS_DIR:-}
    while [ $# -gt 0 ]; do
        case "$1" in
            --version | --tools | --to | --base-url | --target | --docs-dir | --sums-sha256)
                [ $# -ge 2 ] || die 2 "$1 needs a value" "see install.sh --help"
                case "$1" in
                    --docs-dir) docs_dir=$2 ;;
                    --sums-sha256) sums_pin=$2 ;;
                    --version) version=$2 ;;
                    --tools) tools=$2 ;;
                    --to) to=$2 ;;
                    --base-url) base_url=$2 ;;
                    --target) target=$2 ;;
                esac
                shift 2
                ;;
            --version=*) version=${1#*=}; shift ;;
            --tools=*) tools=${1#*=}; shift ;;
            --to=*) to=${1#*=}; shift ;;
            --base-url=*) base_url=${1#*=}; shift ;;
            --target=*) target=${1#*=}; shift ;;
            --docs-dir=*) docs_dir=${1#*=}; shift ;;
            --sums-sha256=*) sums_pin=${1#*=}; shift ;;
            --force) force=yes; shift ;;
            --links) links=yes; shift ;;
            --docs) docs=yes; shift ;;
            -h | --help) usage; exit 0 ;;
            *) die 2 "unknown option '$1'" "see install.sh --help" ;;
        esac
    done

    [ -n "$version" ] || die 2 "--version is required: shipkit installs a pinned release, never an implicit latest" \
        "--version 0.1.0 (or --version latest to ask for the newest)"
    if [ -z "$to" ]; then
        [ -n "${HOME:-}" ] || die 2 "HOME is not set and no --to given" "--to /usr/local/bin"
        to=$HOME/.local/bin
    fi
    base_url=${base_url%/}
    if [ -n "$sums_pin" ]; then
        sums_pin=$(printf '%s' "$sums_pin" | tr 'A-F' 'a-f')
        case "$sums_pin" in
            *[!0-9a-f]*) die 2 "--sums-sha256 must be 64 hex digits" "sha256sum SHA256SUMS gives it" ;;
        esac
        [ ${#sums_pin} -eq 64 ] || die 2 "--sums-sha256 must be 64 hex digits" "sha256sum SHA256SUMS gives it"
    fi
    [ -n "$tools" ] || die 2 "--tools is empty" "--tools version-detect,notify"
    _t_list=$(printf '%s' "$tools" | tr ',' ' ')
    for _t in $_t_list; do
        case ",$KNOWN_TOOLS," in
            *",$_t,"*) ;;
            *) die 2 "unknown tool '$_t'" "one of $KNOWN_TOOLS" ;;
        esac
    done
    if [ "$links" = yes ]; then
        case " $_t_list " in
            *" shipkit "*) ;;
            *) die 2 "--links needs shipkit among --tools" "--tools shipkit --links" ;;
        esac
    fi
    if [ "$docs" = yes ] && [ -z "$docs_dir" ]; then
        if [ -n "${XDG_DATA_HOME:-}" ]; then
            docs_dir=$XDG_DATA_HOME
        else
            [ -n "${HOME:-}" ] || die 2 "HOME is not set and no --docs-dir given" "--docs-dir /usr/local/share"
            docs_dir=$HOME/.local/share
        fi
    fi

    DETECTED_LIBC=
    if [ -z "$target" ]; then
        detect_target
        target=$RETVAL
    fi
    case "$target" in
        *[!A-Za-z0-9_.-]*) die 2 "bad --target '$target'" "e.g. x86_64-unknown-linux-musl" ;;
    esac

    _tmp=$(mktemp -d 2>/dev/null || mktemp -d -t shipkit-install) || die 1 "cannot make a temporary directory"
    trap 'rm -rf "$_tmp"' EXIT
    trap 'rm -rf "$_tmp"; exit 130' INT TERM

    if [ "$version" = latest ]; then
        case "$base_url" in
            */releases/download) latest_url="${base_url%/download}/latest/download/VERSION" ;;
            *) latest_url="$base_url/latest" ;;
        esac
        download "$latest_url" "$_tmp/latest" || die 7 "cannot read the latest version from $(shown "$latest_url")" \
            "pin a version with --version X, or publish that file"
        version=$(head -n 1 "$_tmp/latest" | tr -d ' \r\n')
        say "latest is $version"
    fi
    version=${version#v}
    case "$version" in
        "" | *[!A-Za-z0-9.+-]*) die 2 "bad version '$version'" "a release such as 0.1.0" ;;
    esac

    # Idempotent: the same version already in --to is neither downloaded nor touched.
    needed=
    for _t in $_t_list; do
        if [ "$force" = no ] && installed_version_matches "$to/$_t" "$version"; then
            say "$_t $version is already installed in $to"
        else
            needed="$needed $_t"
        fi
    done
    if [ -z "$needed" ]; then
        [ "$links" = no ] || link_tools "$to"
        say "nothing to do"
        exit 0
    fi

    has tar || die 5 "tar is not installed" "install tar"
    has gzip || die 5 "gzip is not installed" "install gzip"
    has sha256sum || has shasum || has openssl ||
        die 5 "no sha256sum, shasum or openssl to verify the downloads" "install coreutils"
    release_url="$base_url/v$version"
    say "installing${needed} $version ($target${DETECTED_LIBC:+, $DETECTED_LIBC system}) from $(shown "$release_url")"

    download "$release_url/SHA256SUMS" "$_tmp/SHA256SUMS" ||
        die 7 "cannot download $(shown "$release_url")/SHA256SUMS" "check --version and --base-url; nothing was installed"
    verify_sums "$_tmp" "$release_url"

    # Verify every archive before installing any of them.
    for _t in $needed; do
        _name="$_t-$version-$target"
        _file="$_name.tar.gz"
        download "$release_url/$_file" "$_tmp/$_file" ||
            die 7 "cannot download $(shown "$release_url")/$_file" "check --version, --target and --base-url; nothing was installed"
        _want=$(expected_sum "$_tmp/SHA256SUMS" "$_file")
        [ -n "$_want" ] || die 10 "SHA256SUMS of $version has no checksum for $_file: refusing to install unverified code" \
            "the release is incomplete; nothing was installed"
        _got=$(sha256_of "$_tmp/$_file")
        [ "$_got" = "$_want" ] || die 10 "checksum mismatch for $_file (expected $_want, got $_got): refusing to install" \
            "the download or the mirror is corrupt or tampered with; nothing was installed"
        mkdir -p "$_tmp/x"
        tar -xzf "$_tmp/$_file" -C "$_tmp/x" || die 1 "cannot unpack $_file"
        [ -f "$_tmp/x/$_name/$_t" ] || die 1 "$_file holds no $_name/$_t" "the release is malformed; nothing was installed"
    done

    mkdir -p "$to" || die 1 "cannot create $to" "choose a writable --to"
    for _t in $needed; do
        # copy beside, then rename: a running binary is never half-written
        if ! { cp "$_tmp/x/$_t-$version-$target/$_t" "$to/.$_t.install.$$" &&
            chmod 755 "$to/.$_t.install.$$" && mv -f "$to/.$_t.install.$$" "$to/$_t"; }; then
            rm -f "$to/.$_t.install.$$"
            die 1 "cannot write $to/$_t" "choose a writable --to"
        fi
        say "installed $to/$_t ($version, signed sums, verified sha256)"
        [ "$docs" = no ] || install_docs "$_tmp/x/$_t-$version-$target" "$docs_dir"
    done
    [ "$links" = no ] || link_tools "$to"
    case ":${PATH:-}:" in
        *":$to:"*) ;;
        *) say "note: $to is not on PATH (add it: export PATH=\"$to:\$PATH\")" ;;
    esac
}

# link_tools <dir>: <dir>/<tool> -> shipkit for each of the four, busybox-style; a regular file there (a
# standalone tool) is left alone and said so.
link_tools() {
    for _l in $(printf '%s' "$ALL_TOOLS" | tr ',' ' '); do
        if [ -e "$1/$_l" ] && [ ! -L "$1/$_l" ]; then
            say "note: $1/$_l is a standalone binary: left as it is (remove it to use the shipkit link)"
            continue
        fi
        if ! { ln -sf shipkit "$1/.$_l.link.$$" && mv -f "$1/.$_l.link.$$" "$1/$_l"; }; then
            rm -f "$1/.$_l.link.$$"
            die 1 "cannot link $1/$_l" "choose a writable --to"
        fi
    done
    say "linked $(printf '%s' "$ALL_TOOLS" | tr ',' ' ') to $1/shipkit"
}

# install_docs <unpacked archive dir> <docs dir>: completions and man pages, when the archive has them.
install_docs() {
    [ -d "$1/completions" ] || { say "note: $(basename "$1") has no completions or man pages"; return 0; }
    mkdir -p "$2/bash-completion/completions" "$2/zsh/site-functions" "$2/fish/vendor_completions.d" \
        "$2/man/man1" || die 1 "cannot create directories in $2" "choose a writable --docs-dir"
    # (globbing is off: find lists the files; their names are the tools' and subcommands')
    find "$1/completions" "$1/man" -type f > "$_tmp/docs.list" || die 1 "cannot list the docs of $(basename "$1")"
    while IFS= read -r _f; do
        case "$_f" in
            *.bash) _b=$(basename "$_f" .bash); cp "$_f" "$2/bash-completion/completions/$_b" ;;
            *.fish) cp "$_f" "$2/fish/vendor_completions.d/" ;;
            */completions/_*) cp "$_f" "$2/zsh/site-functions/" ;;
            *.1) cp "$_f" "$2/man/man1/" ;;
            *) true ;;
        esac || die 1 "cannot write $(basename "$_f") in $2" "choose a writable --docs-dir"
    done < "$_tmp/docs.list"
    say "installed completions and man pages of $(basename "$1") in $2"
}

# Everything is in functions called here, so a download cut short by the network runs nothing.
main "$@"
