// The enrolment sheet's print button (the page itself is styled for print).
document.getElementById("print-sheet")?.addEventListener("click", () => window.print());
