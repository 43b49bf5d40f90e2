"""Numbers for the clinic and its funder: the figures of a period of clinic days
(``figures``), and the de-identified visit list a funder may take away (``visits``).

Every figure is counted by the database (aggregate SQL over indexed columns): a report reads a
fixed number of statements whatever the length of its range, and no Python loop runs over
visits. Reads only: nothing here writes, except the audit event an export records.
"""
