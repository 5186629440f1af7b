/** The one error body every app answers with. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  requestId: string;
}
