#!/usr/bin/env bash
# Packages the function's dependencies into package/, as a Lambda deployment package holds
# them: wheels for the Python that runs it in the sandbox (the system's /usr/bin/python3),
# compiled ahead so that a cold start does not compile botocore.
set -euo pipefail
cd "$(dirname "$0")"
version=$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
rm -rf package
python3 -m pip install -q --disable-pip-version-check --no-warn-conflicts --root-user-action=ignore --target package --only-binary=:all: \
  --implementation cp --python-version "$version" --platform manylinux2014_x86_64 \
  -r requirements.txt
/usr/bin/python3 -m compileall -q package
echo "packaged $(du -sh package | cut -f1) for Python $version in package/"
