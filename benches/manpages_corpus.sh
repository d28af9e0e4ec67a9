#!/usr/bin/env bash
# Builds a large real multilingual corpus from Debian's translated manual
# pages: downloads the packages with apt-get download, renders every page to
# plain text with groff and writes one article per page under OUT/LANG/.
# usage: benches/manpages_corpus.sh OUT   (needs apt-get, dpkg-deb, groff)
set -euo pipefail
out=${1:?usage: manpages_corpus.sh OUT}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
packages="manpages manpages-dev manpages-de manpages-fr manpages-es manpages-it manpages-pl manpages-ru manpages-ja manpages-zh"
(cd "$work" && apt-get download $packages >/dev/null 2>&1) || {
    echo "apt-get download failed: is a Debian package index reachable (apt-get update)?" >&2
    exit 1
}
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
render() { # page.gz → text without overstrike or colour codes
    zcat -f "$1" | groff -man -Tutf8 -P-cbou -Kutf8 2>/dev/null | tr -d '\000-\010\013\014\016-\037\177' | sed 's/[[:space:]]*$//'
}
count=0
while IFS= read -r page; do
    rel=${page#"$work/root/usr/share/man/"}
    lang=${rel%%/*}
    case $lang in man[0-9]*) lang=en ;; esac
    case $lang in zh_CN|zh_TW) lang=zh ;; esac
    name=$(basename "$page" .gz)
    mkdir -p "$out/$lang"
    dest="$out/$lang/${name}.$(echo "$rel" | md5sum | cut -c1-6).txt"
    render "$page" > "$dest" || true
    [ -s "$dest" ] || rm -f "$dest"
    count=$((count + 1))
done < <(find "$work/root/usr/share/man" -type f -name '*.gz' | sort)
echo "$count pages rendered into $out"
