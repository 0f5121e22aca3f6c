"""The centre's console: units, enrolment sheets, statistics and the pilot report."""
