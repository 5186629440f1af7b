import { ApiProperty } from '@nestjs/swagger';

/** The one error body every app answers with. */
export class ErrorBody {
  @ApiProperty({ type: 'integer', example: 404 })
  statusCode!: number;

  @ApiProperty({ description: 'The reason phrase of the status', example: 'Not Found' })
  error!: string;

  @ApiProperty({ example: 'product 42 not found' })
  message!: string;

  @ApiProperty({ description: 'Also sent as `X-Request-Id`; quote it when reporting a problem' })
  requestId!: string;
}
