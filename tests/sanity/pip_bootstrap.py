"""Offline stand-in for ansible-test's pip bootstrap script.

ansible-test bootstraps pip into each sanity virtualenv by downloading a
get-pip script from a host this build machine cannot reach. This script does
the same job from what Python already ships: ensurepip installs the bundled
pip wheel, then pip installs the requested packages from the package index.
ansible-test runs pip with a scrubbed environment, so the system CA bundle
(needed where the index is behind a TLS-inspecting proxy) is recorded in the
virtualenv's own pip.conf, which every later pip call in that venv reads.
The Makefile copies this file to ~/.ansible/test/cache/get_pip_<version>.py.
"""
import ensurepip
import os
import subprocess
import sys

CA_BUNDLES = ('/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt')

for bundle in CA_BUNDLES:
    if os.path.exists(bundle):
        with open(os.path.join(sys.prefix, 'pip.conf'), 'w') as conf:
            conf.write('[global]\ncert = %s\n' % bundle)
        break

# ensurepip points PIP_CONFIG_FILE at /dev/null in this process; the pip run
# below must see the configuration again, so it gets the environment as it was.
environment = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
if args:
    subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args, env=environment)
