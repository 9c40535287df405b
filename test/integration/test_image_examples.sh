#!/usr/bin/env bash
# The image sandboxes of examples/images, as a user runs them: busybox.yaml
# offline, from an OCI layout next to it (./busybox-oci, as
# packaging/demo.sh makes it: here a copy of the test images' busybox), with
# the image's Entrypoint, Cmd, Env, WorkingDir and User; `-- CMD` replaces
# the image's Cmd (its Entrypoint here is /bin/sh -c). debian.yaml and python.yaml name Docker Hub images
# (no network here): every other key of theirs translates, checked with an
# offline image in place of theirs (busybox:plain: no Entrypoint, as theirs).
# rrun-test: image-fixtures
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"
source "$here/image-fixtures.sh"
images_require

EXAMPLES=""
for d in "$here/../../examples/images" "$here/../examples/images"; do
  if [[ -d "$d" ]]; then
    EXAMPLES=$(cd "$d" && pwd)
    break
  fi
done
[[ -n "$EXAMPLES" ]] || fail "examples/images not found next to the tests"

export XDG_DATA_HOME=$WORK/data
S=$WORK/examples
mkdir -p "$S"
cp "$EXAMPLES"/*.yaml "$S/"
skopeo copy -q "oci:$IMAGES/busybox:configured" "oci:$S/busybox-oci:latest"
skopeo copy -q "oci:$IMAGES/busybox:plain" "oci:$S/plain-oci:latest"

step "busybox.yaml runs the image's own command, from the layout next to it"
# From another directory: the layout is found next to the file.
cd "$WORK" || fail "cd $WORK"
expect_ok rr run -f "$S/busybox.yaml"
expect_eq "$out" "hello from the image" "busybox.yaml's output"
# shellcheck disable=SC2016 # for the image's shell
expect_ok rr run -f "$S/busybox.yaml" -- 'pwd; id -u; echo "$FOO"'
expect_eq "$out" $'/work\n1000\nbar' "-- CMD, and the image's WorkingDir, User and Env"
expect_eq "$(state_ids)" "" "run -f removed the container"

step "debian.yaml and python.yaml translate (with an offline image in place of theirs)"
for name in debian python; do
  expect_contains "$(grep '^image: docker://' "$S/$name.yaml")" "image: docker://" "$name.yaml names a Docker Hub image"
  sed -e 's|^image: .*|image: oci:./plain-oci:latest|' "$S/$name.yaml" >"$S/$name-offline.yaml"
  mkdir "$WORK/spec-$name"
  expect_ok "$RRUN_BIN" spec --from "$S/$name-offline.yaml" -b "$WORK/spec-$name"
  expect_eq "$(jq -r .process.cwd "$WORK/spec-$name/config.json")" /work "$name: workdir"
done
expect_eq "$(jq -r '.mounts[] | select(.destination == "/work") | .source' "$WORK/spec-debian/config.json")" "$S" \
  "debian: this directory is /work"
expect_eq "$(jq -r .process.terminal "$WORK/spec-debian/config.json")" true "debian: a terminal"
expect_eq "$(jq -c .process.args "$WORK/spec-python/config.json" | cut -c1-12)" '["python3","' "python: the command"

assert_no_leftovers
