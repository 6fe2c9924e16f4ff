import Yams
enum RunSpecPlaceholder {}
