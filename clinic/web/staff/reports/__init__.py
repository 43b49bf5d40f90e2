"""The reports screen: the funder's figures for a period beside the period before, as a table
(``table``) and charts (``charts``) on the page (``views``, its period read by ``forms``), and
its downloads: the report itself (``report_files``) and the de-identified visit list
(``visit_list``), as CSV or a spreadsheet, each recorded in the audit trail."""
