"""The reports screen: the funder's figures for a range beside the period before, as charts
and a table (``views``, ``charts``), and their downloads (``exports``): the report itself and
the de-identified visit list, as CSV or a spreadsheet, each recorded in the audit trail."""
