# -*- coding: utf-8 -*-
# Copyright: hvsec.hypervisor contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/refused-configurations.md quotes only messages the code still prints.

Every table of the page with a ``Message`` column quotes message fragments in backticks in that
column. Each fragment must occur in a file under plugins/ or roles/ (word for word, or with runs
of whitespace taken as one space, so a fragment of a folded YAML message that wraps in the source
is found too). A changed or removed message fails the test, naming the fragment.
Reads files only: no Ansible run, no host.
"""

import os
import re

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PAGE = os.path.join(ROOT, 'docs', 'refused-configurations.md')
SOURCE_DIRS = ('plugins', 'roles')
# the extensions of the collection's code and role files (module docs excluded: .md)
SOURCE_EXTENSIONS = ('.py', '.yml', '.yaml', '.j2')
# fragments shorter than this would be found anywhere and prove nothing
MIN_LENGTH = 8
CODE = re.compile(r'`([^`]+)`')


def _cells(line):
    """The cells of a Markdown table row; a ``\\|`` inside a cell is not a separator."""
    inner = line.strip()[1:-1] if line.strip().endswith('|') else line.strip()[1:]
    return [cell.strip().replace('\\|', '|') for cell in re.split(r'(?<!\\)\|', inner)]


def message_fragments(text):
    """[(line number, fragment)] of every backticked span in the Message column of every table."""
    found = []
    column = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.lstrip().startswith('|'):
            column = None                   # a table ends at the first line that is not a row
            continue
        cells = _cells(line)
        if column is None:
            column = cells.index('Message') if 'Message' in cells else -1
            continue                        # the header row
        if column < 0 or set(''.join(cells)) <= set('-: '):
            continue                        # a table without a Message column, or the separator row
        if column < len(cells):
            found.extend((number, fragment) for fragment in CODE.findall(cells[column]))
    return found


def _squeeze(text):
    return re.sub(r'\s+', ' ', text)


def source_texts():
    texts = []
    for top in SOURCE_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top)):
            dirnames[:] = sorted(d for d in dirnames if d != '__pycache__')
            for name in sorted(filenames):
                if name.endswith(SOURCE_EXTENSIONS):
                    path = os.path.join(dirpath, name)
                    with open(path, encoding='utf-8', errors='replace') as handle:
                        text = handle.read()
                    texts.append((os.path.relpath(path, ROOT), text, _squeeze(text)))
    return texts


def locate(fragment, texts):
    """The files that contain ``fragment`` (as written, or whitespace-squeezed)."""
    squeezed = _squeeze(fragment)
    return [path for path, raw, flat in texts if fragment in raw or squeezed in flat]


with open(PAGE, encoding='utf-8') as _handle:
    PAGE_TEXT = _handle.read()
FRAGMENTS = message_fragments(PAGE_TEXT)
TEXTS = source_texts()


def test_the_page_quotes_messages():
    # every area of the page has its tables; far fewer fragments means the parsing broke
    assert len(FRAGMENTS) >= 100, 'only %d message fragments found in %s' % (len(FRAGMENTS), PAGE)
    for heading in ('## Every role', '## iommu', '## vfio', '## vswitch', '## mgmt_plane', '## Audit'):
        assert heading in PAGE_TEXT, heading


@pytest.mark.parametrize('line,fragment', FRAGMENTS, ids=['line%d' % n for n, _f in FRAGMENTS])
def test_quoted_message_fragment_is_in_the_code(line, fragment):
    assert len(fragment) >= MIN_LENGTH, (
        'docs/refused-configurations.md line %d: fragment %r is too short to identify a message'
        % (line, fragment))
    assert locate(fragment, TEXTS), (
        'docs/refused-configurations.md line %d quotes the message fragment %r, which no file under '
        'plugins/ or roles/ contains: the message changed; update the page' % (line, fragment))


def test_a_fragment_that_is_not_in_the_code_is_found_missing():
    assert not locate('this message is printed nowhere in the collection', TEXTS)
    assert locate('is not a known control ID', TEXTS)
    rows = message_fragments('| What | Message | Why |\n|---|---|---|\n| x | `a made-up message` | y |\n'
                             '\n| What | Source |\n|---|---|\n| x | `not a message` |\n')
    assert rows == [(3, 'a made-up message')]
