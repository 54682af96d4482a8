# Dates as Korean readers write them (2026년 3월 1일); times stay on the 24-hour clock.
DATETIME_FORMAT = "Y년 n월 j일 H:i:s"
SHORT_DATE_FORMAT = "Y년 n월 j일"
SHORT_DATETIME_FORMAT = "Y년 n월 j일 H:i"
