"""Reports: the consultation as template data, and the html/pdf/md/txt/json formats."""
