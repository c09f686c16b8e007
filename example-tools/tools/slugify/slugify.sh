#!/usr/bin/env bash
# slugify: turn a title into a URL slug.
#
# protocol: plain. The arguments arrive on stdin as one JSON object, e.g.
#   {"text": "Hello, World!", "maxLength": 40}
# and whatever this script prints on stdout is the result. A failure is a non-zero exit with
# the reason on stderr. No jq: a small JSON reader below does the job.
set -euo pipefail
export LC_ALL=C # work on bytes: predictable on every machine, and fast substring access

input=$(cat)

die() {
  printf 'slugify: %s\n' "$1" >&2
  exit 1
}

# utf8 CODEPOINT: print the UTF-8 bytes of a code point (works in any locale).
utf8() {
  local c=$1
  if ((c < 0x80)); then
    printf "\\x$(printf %02x "$c")"
  elif ((c < 0x800)); then
    printf "\\x$(printf %02x $((0xC0 | c >> 6)))\\x$(printf %02x $((0x80 | (c & 0x3F))))"
  else
    printf "\\x$(printf %02x $((0xE0 | c >> 12)))\\x$(printf %02x $((0x80 | (c >> 6 & 0x3F))))"
    printf "\\x$(printf %02x $((0x80 | (c & 0x3F))))"
  fi
}

# json_field NAME: print the value of the top-level key NAME of the JSON object in $input.
# Strings are decoded (\" \\ \/ \b \f \n \r \t \uXXXX); other scalars print as written.
# Returns 1 when the key is absent, 2 when the input is not a JSON object.
json_field() {
  local want=$1 s=$input n=${#input} i=0 c key value depth
  skip_ws() { while ((i < n)) && [[ ${s:i:1} == [[:space:]] ]]; do ((i += 1)); done; }
  read_string() { # sets $str from the string starting at s[i] == '"'
    str=""
    ((i += 1))
    while ((i < n)); do
      c=${s:i:1}
      case $c in
        '"') ((i += 1)); return 0 ;;
        '\')
          c=${s:i+1:1}
          case $c in
            n) str+=$'\n' ;; t) str+=$'\t' ;; r) str+=$'\r' ;; b | f) str+=" " ;;
            u) str+=$(utf8 $((16#${s:i+2:4}))); ((i += 4)) ;;
            *) str+=$c ;;
          esac
          ((i += 2)) ;;
        *) str+=$c; ((i += 1)) ;;
      esac
    done
    return 2
  }
  skip_ws
  [[ ${s:i:1} == "{" ]] || return 2
  ((i += 1))
  while ((i < n)); do
    skip_ws
    [[ ${s:i:1} == "}" ]] && return 1
    [[ ${s:i:1} == '"' ]] || return 2
    read_string || return 2
    key=$str
    skip_ws
    [[ ${s:i:1} == ":" ]] || return 2
    ((i += 1))
    skip_ws
    c=${s:i:1}
    if [[ $c == '"' ]]; then
      read_string || return 2
      value=$str
    elif [[ $c == "{" || $c == "[" ]]; then # skip a nested value, strings included
      depth=0
      while ((i < n)); do
        c=${s:i:1}
        if [[ $c == '"' ]]; then read_string || return 2; continue; fi
        [[ $c == "{" || $c == "[" ]] && ((depth += 1))
        [[ $c == "}" || $c == "]" ]] && ((depth -= 1))
        ((i += 1))
        ((depth == 0)) && break
      done
      value=""
    else
      value=""
      while ((i < n)) && [[ ${s:i:1} != [,}[:space:]] ]]; do value+=${s:i:1}; ((i += 1)); done
    fi
    if [[ $key == "$want" ]]; then
      printf '%s' "$value"
      return 0
    fi
    skip_ws
    [[ ${s:i:1} == "," ]] && ((i += 1))
  done
  return 2
}

status=0
text=$(json_field text) || status=$?
((status == 2)) && die "expected a JSON object of arguments on stdin"
((status == 1)) && die "\`text\` is required"
separator=$(json_field separator) || separator="-"
max_length=$(json_field maxLength) || max_length=80
[[ $separator == "-" || $separator == "_" || $separator == "." ]] || die "\`separator\` must be -, _ or ."
[[ $max_length =~ ^[0-9]+$ ]] && ((max_length >= 1)) || die "\`maxLength\` must be a positive integer"

# Transliterate common accented Latin letters (each a multi-byte sequence matched as a whole,
# so this works byte-wise in any locale), spell out "&", lower-case ASCII, and turn every run of
# other characters into one hyphen.
TRANSLITERATE=(
  -e 's/(À|Á|Â|Ã|Ä|Å|à|á|â|ã|ä|å|Ā|ā|Ă|ă|Ą|ą)/a/g'
  -e 's/(Æ|æ|Ǽ|ǽ)/ae/g'
  -e 's/(Ç|ç|Ć|ć|Ĉ|ĉ|Ċ|ċ|Č|č)/c/g'
  -e 's/(Ď|ď|Đ|đ|Ð|ð)/d/g'
  -e 's/(È|É|Ê|Ë|è|é|ê|ë|Ē|ē|Ĕ|ĕ|Ė|ė|Ę|ę|Ě|ě)/e/g'
  -e 's/(Ĝ|ĝ|Ğ|ğ|Ġ|ġ|Ģ|ģ)/g/g'
  -e 's/(Ĥ|ĥ|Ħ|ħ)/h/g'
  -e 's/(Ì|Í|Î|Ï|ì|í|î|ï|Ĩ|ĩ|Ī|ī|Ĭ|ĭ|Į|į|İ|ı)/i/g'
  -e 's/(Ĵ|ĵ)/j/g'
  -e 's/(Ķ|ķ)/k/g'
  -e 's/(Ĺ|ĺ|Ļ|ļ|Ľ|ľ|Ŀ|ŀ|Ł|ł)/l/g'
  -e 's/(Ñ|ñ|Ń|ń|Ņ|ņ|Ň|ň)/n/g'
  -e 's/(Ò|Ó|Ô|Õ|Ö|Ø|ò|ó|ô|õ|ö|ø|Ō|ō|Ŏ|ŏ|Ő|ő)/o/g'
  -e 's/(Œ|œ)/oe/g'
  -e 's/(Ŕ|ŕ|Ŗ|ŗ|Ř|ř)/r/g'
  -e 's/(Ś|ś|Ŝ|ŝ|Ş|ş|Š|š)/s/g'
  -e 's/(ß)/ss/g'
  -e 's/(Ţ|ţ|Ť|ť|Ŧ|ŧ)/t/g'
  -e 's/(Þ|þ)/th/g'
  -e 's/(Ù|Ú|Û|Ü|ù|ú|û|ü|Ũ|ũ|Ū|ū|Ŭ|ŭ|Ů|ů|Ű|ű|Ų|ų)/u/g'
  -e 's/(Ŵ|ŵ)/w/g'
  -e 's/(Ý|ý|ÿ|Ŷ|ŷ|Ÿ)/y/g'
  -e 's/(Ź|ź|Ż|ż|Ž|ž)/z/g'
  -e 's/&/ and /g'
)
slug=$(printf '%s' "$text" | sed -E "${TRANSLITERATE[@]}" | tr 'A-Z' 'a-z' | tr -cs 'a-z0-9' '-')
slug=${slug#-}
slug=${slug%-}

# Cut at a word boundary when too long (a single over-long word is cut mid-word).
if ((${#slug} > max_length)); then
  cut=${slug:0:max_length}
  if [[ ${slug:max_length:1} != "-" && $cut == *-* ]]; then
    cut=${cut%-*}
  fi
  slug=${cut%-}
fi

[[ -n $slug ]] || die "nothing left to make a slug from: the text has no letters or digits"
printf '%s' "${slug//-/$separator}"
