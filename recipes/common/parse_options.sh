# Kaldi-style option parsing, sourced by recipes after they set their defaults:
#   stage=0; nj=2; . ../common/parse_options.sh
# `--some-name VALUE` sets $some_name if the recipe defined it (dashes become underscores);
# `--flag` alone sets a variable that defaults to false to true. Unknown options are an error.
# Positional arguments are left in "$@".
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      echo "usage: $0 [options]; options and defaults:" >&2
      # the shared options, then the recipe's own (between sourcing defaults.sh and this file)
      { grep -E '^[a-z_]+=' "$(dirname "${BASH_SOURCE[0]}")/defaults.sh"
        sed -n '/common\/defaults.sh/,/common\/parse_options.sh/p' "$0" | grep -E '^[a-z_]+='
      } | awk -F= '{ name = $1; gsub("_", "-", name); sub("^[^=]*=", ""); print "  --" name " " $0 }' >&2
      exit 0 ;;
    --*)
      name=$(echo "${1#--}" | tr '-' '_')
      if ! declare -p "$name" >/dev/null 2>&1; then
        echo "$0: error: unknown option $1 (see --help)" >&2
        exit 2
      fi
      if [ "${!name}" = false ] && { [ $# -eq 1 ] || [[ "$2" == --* ]]; }; then
        printf -v "$name" '%s' true; shift
      else
        [ $# -ge 2 ] || { echo "$0: error: option $1 needs a value" >&2; exit 2; }
        printf -v "$name" '%s' "$2"; shift 2
      fi ;;
    *) break ;;
  esac
done
